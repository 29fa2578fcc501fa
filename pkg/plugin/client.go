package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// DefaultCallTimeout is HostOptions.CallTimeout's default.
const DefaultCallTimeout = time.Minute

// DefaultStartTimeout is HostOptions.StartTimeout's default.
const DefaultStartTimeout = time.Minute

// HostOptions are how a host runs a plugin binary.
type HostOptions struct {
	// CallTimeout bounds each call to the plugin: a unary call, one batch
	// of items, one message of an object's data. A plugin that does not
	// answer in time is stopped, and started again at the next call.
	CallTimeout time.Duration
	// StartTimeout bounds starting the binary up to its handshake. It is
	// apart from CallTimeout, which may be short to catch a hung call: a
	// busy machine can take seconds to start a process.
	StartTimeout time.Duration
	// Log receives the plugin's stderr and stdout, line by line, under
	// plugin=<binary name>; nil discards them.
	Log *slog.Logger
	// Env is added to the server's environment for the plugin process.
	Env []string
}

// Client runs one plugin binary for a host: started at the first call,
// started again at the next call after it crashed or was stopped for not
// answering. It is safe for concurrent use; all calls share one connection.
type Client struct {
	path string
	opts HostOptions
	log  *slog.Logger

	mu       sync.Mutex
	proc     *goplugin.Client
	conn     *grpc.ClientConn
	gen      uint64
	starts   int
	closed   bool
	restarts atomic.Int64

	// inflight and entered (under mu) tell a call whether another ran on
	// the process at the same time: if so, a crash that failed it may
	// have been the other call's doing.
	inflight int
	entered  uint64
	// alone is held shared by every call and exclusively by a retry, so
	// that whatever fails a retry is its own doing.
	alone sync.RWMutex
}

// NewClient returns a Client for the binary at path. Nothing is started yet.
func NewClient(path string, opts HostOptions) *Client {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{path: path, opts: opts, log: log.With("plugin", filepath.Base(path))}
}

// Path is the binary's path.
func (c *Client) Path() string { return c.path }

// Restarts counts the times the binary was started again after it crashed
// or was stopped.
func (c *Client) Restarts() int { return int(c.restarts.Load()) }

// Close stops the binary; later calls fail.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.proc != nil {
		c.proc.Kill()
		c.proc = nil
	}
}

// connect returns the connection to the running process, starting it when
// there is none, and the process's generation (which changes with every
// start).
func (c *Client) connect() (*grpc.ClientConn, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, 0, &CallError{Binary: c.path, Reason: "is closed (the server is shutting down)"}
	}
	if c.proc != nil && !c.proc.Exited() {
		return c.conn, c.gen, nil
	}
	if c.proc != nil {
		c.proc.Kill()
		c.proc = nil
	}
	if c.starts > 0 {
		c.restarts.Add(1)
		c.log.Warn("starting the plugin binary again", "binary", c.path, "restarts", c.restarts.Load())
	}
	c.starts++
	proc, conn, err := c.start()
	if err != nil {
		return nil, 0, &CallError{Binary: c.path, Reason: "could not be started: " + err.Error()}
	}
	c.proc, c.conn = proc, conn
	c.gen++
	return conn, c.gen, nil
}

func (c *Client) start() (*goplugin.Client, *grpc.ClientConn, error) {
	cmd := exec.Command(c.path)
	cmd.Env = append(os.Environ(), c.opts.Env...)
	proc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          goplugin.PluginSet{goPluginName: &bridge{}},
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env has it, with Env taking precedence
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}),
		Stderr:           newLineLogger(c.log, "stderr"),
		SyncStderr:       newLineLogger(c.log, "stderr"),
		SyncStdout:       newLineLogger(c.log, "stdout"),
		StartTimeout:     c.opts.StartTimeout,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))},
	})
	rpc, err := proc.Client()
	if err != nil {
		proc.Kill()
		return nil, nil, err
	}
	raw, err := rpc.Dispense(goPluginName)
	if err != nil {
		proc.Kill()
		return nil, nil, err
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !ok {
		proc.Kill()
		return nil, nil, fmt.Errorf("unexpected go-plugin client %T", raw)
	}
	return proc, conn, nil
}

// kill stops the process of generation gen (not a newer one), so the next
// call starts it again.
func (c *Client) kill(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && c.proc != nil {
		c.proc.Kill()
		c.proc = nil
	}
}

// CallError is a call that failed on the way, not by the plugin's own
// answer: the binary crashed, did not answer in time, or could not start.
type CallError struct {
	Binary string
	Reason string
	Err    error
	// broken: the connection broke (the process crashed or was stopped),
	// which may be another call's doing when calls ran side by side.
	broken bool
}

func (e *CallError) Error() string {
	msg := "binary " + e.Binary + " " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *CallError) Unwrap() error { return e.Err }

// garbageError is an answer that breaks the protocol as a whole (not one
// item's result, which fails that item alone).
type garbageError struct{ what string }

func (e *garbageError) Error() string { return e.what }

// IsCallError reports whether err is a CallError: the plugin did not
// answer, as opposed to answering with an error.
func IsCallError(err error) bool {
	var ce *CallError
	return errors.As(err, &ce)
}

// unary runs call with the call timeout and turns its error into the
// plugin's own error (with its sentinel) or a CallError. It is for calls
// that must not be made twice (they change something); see unaryRetrying.
func (c *Client) unary(ctx context.Context, call func(context.Context, *grpc.ClientConn) error) error {
	err, _ := c.attempt(ctx, call, false)
	return err
}

// unaryRetrying is unary for calls that are safe to make twice (item
// actions, questions). Calls share one process, so when one item crashes
// it or hangs it (and gets it stopped), the calls in flight beside it
// fail too, through no fault of their own. A call that failed that way
// (the connection broke while another call ran) is made once more, alone
// on the restarted process: an innocent call then succeeds, and the call
// whose item did crash crashes again and fails alone. A call that timed
// out on its own deadline or was answered out of protocol is not retried.
func (c *Client) unaryRetrying(ctx context.Context, call func(context.Context, *grpc.ClientConn) error) error {
	err, shared := c.attempt(ctx, call, false)
	var ce *CallError
	if err == nil || !shared || !errors.As(err, &ce) || !ce.broken {
		return err
	}
	c.log.Info("the plugin process broke while other calls ran on it; making the call again, alone", "binary", c.path, "error", err)
	err, _ = c.attempt(ctx, call, true)
	return err
}

// attempt makes call once, alone on the process when alone is set. shared
// says another call was in flight at some time during this one.
func (c *Client) attempt(ctx context.Context, call func(context.Context, *grpc.ClientConn) error, alone bool) (err error, shared bool) {
	if alone {
		c.alone.Lock()
		defer c.alone.Unlock()
	} else {
		c.alone.RLock()
		defer c.alone.RUnlock()
	}
	// Entered before connecting, left after callError has stopped a broken
	// process: a call that connects to a process another call is about to
	// find broken overlaps it, and knows.
	seq, others := c.enter()
	defer func() { shared = c.leave(seq) || others }()
	conn, gen, err := c.connect()
	if err != nil {
		return err, false
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	return c.callError(ctx, gen, call(cctx, conn), false), false
}

// enter counts a call in flight; others says another already was.
func (c *Client) enter() (seq uint64, others bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	others = c.inflight > 0
	c.inflight++
	c.entered++
	return c.entered, others
}

// leave counts the call entered as seq out; it reports whether another call
// entered meanwhile.
func (c *Client) leave(seq uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	return c.entered != seq
}

// callError classifies err from a call on the process of generation gen.
// timedOut says a watchdog stopped the call.
func (c *Client) callError(ctx context.Context, gen uint64, err error, timedOut bool) error {
	if err == nil {
		return nil
	}
	var ge *garbageError
	if errors.As(err, &ge) {
		// A process that answers out of protocol is in no state to trust
		// with the next call either.
		c.kill(gen)
		return &CallError{Binary: c.path, Reason: "answered out of protocol (" + ge.what + "); its process was stopped and starts again at the next call"}
	}
	if re := fromStatus(err); re != nil && !timedOut {
		return re
	}
	if ctx.Err() != nil && !timedOut {
		return ctx.Err() // the caller gave up; the plugin is not to blame
	}
	code := status.Code(err)
	if timedOut || code == codes.DeadlineExceeded {
		c.kill(gen)
		return &CallError{Binary: c.path, Reason: fmt.Sprintf("did not answer within %s (the call timeout); its process was stopped and starts again at the next call", c.opts.CallTimeout)}
	}
	if code == codes.FailedPrecondition || code == codes.NotFound || code == codes.InvalidArgument {
		// The SDK's own refusals: no such plugin, an instance from before
		// a restart, an undecodable request.
		return &CallError{Binary: c.path, Reason: "refused the call", Err: errors.New(status.Convert(err).Message())}
	}
	c.kill(gen)
	return &CallError{Binary: c.path, Reason: "crashed or broke the connection (its output is in the server's log); it starts again at the next call", Err: err, broken: true}
}

// Provides asks the binary what it serves.
func (c *Client) Provides(ctx context.Context) (version string, plugins []Descriptor, err error) {
	var resp *pb.ProvidesResponse
	err = c.unaryRetrying(ctx, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewRegistryClient(conn).Provides(ctx, &pb.Empty{})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	for _, d := range resp.GetPlugins() {
		desc := Descriptor{Kind: Kind(d.GetKind()), Name: d.GetName()}
		if !validKind(desc.Kind) {
			return "", nil, fmt.Errorf("binary %s serves %s of unknown kind %q (kinds are %v)", c.path, desc.Name, desc.Kind, Kinds)
		}
		if err := ValidateName(desc.Name); err != nil {
			return "", nil, fmt.Errorf("binary %s: %w", c.path, err)
		}
		plugins = append(plugins, desc)
	}
	return resp.GetVersion(), plugins, nil
}

// watchdog stops a streaming call whose next message does not come in time.
type watchdog struct {
	c      *Client
	gen    uint64
	cancel context.CancelFunc
	fired  atomic.Bool
}

// do runs fn; if it takes longer than the call timeout, the stream is
// cancelled and the process stopped.
func (w *watchdog) do(fn func() error) error {
	t := time.AfterFunc(w.c.opts.CallTimeout, func() {
		w.fired.Store(true)
		w.cancel()
	})
	err := fn()
	t.Stop()
	return err
}
