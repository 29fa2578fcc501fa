package localnode

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/kubelet/pkg/cri/streaming/portforward"
	remotecommandserver "k8s.io/kubelet/pkg/cri/streaming/remotecommand"

	"github.com/heptio/ark/internal/localnode/containerlog"
)

// The kubelet API the API server calls for pods/exec, pods/log and
// pods/portforward. The SPDY and WebSocket protocols are the kubelet's own
// streaming packages (k8s.io/kubelet/pkg/cri/streaming, the same v0.34 as the
// rest of the module's Kubernetes libraries), not a copy: this file only
// finds the pod and hands the streams to it.

// Timeouts of the kubelet's streaming server defaults.
const (
	streamIdleTimeout = 4 * time.Hour
)

func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /pods", n.servePods)
	for _, p := range []string{"/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, n.serveExec)
		mux.HandleFunc("POST "+p, n.serveExec)
	}
	for _, p := range []string{"/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"} {
		mux.HandleFunc("GET "+p, n.servePortForward)
		mux.HandleFunc("POST "+p, n.servePortForward)
	}
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", n.serveLogs)
	for _, p := range []string{"/attach/", "/run/"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the local node does not support attach or run: use exec", http.StatusNotImplemented)
		})
	}
	return mux
}

// runtimeFor finds the pod of a request; it writes the error itself.
func (n *Node) runtimeFor(w http.ResponseWriter, r *http.Request) *podRuntime {
	ns, name, uid := r.PathValue("ns"), r.PathValue("pod"), types.UID(r.PathValue("uid"))
	rt := n.pods.lookup(ns, name)
	if rt == nil || (uid != "" && rt.uid != uid) {
		http.Error(w, fmt.Sprintf("pod %s/%s does not exist on node %s", ns, name, n.cfg.Name), http.StatusNotFound)
		return nil
	}
	return rt
}

func (n *Node) serveExec(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rt := n.runtimeFor(w, r)
	if rt == nil {
		return
	}
	container := r.PathValue("container")
	cmd := r.URL.Query()[corev1.ExecCommandParam]
	n.log.Info("exec", "pod", rt.key(), "container", container, "command", cmd, "tty", opts.TTY)
	remotecommandserver.ServeExec(w, r, podExecutor{rt}, rt.key(), rt.uid, container, cmd, opts,
		streamIdleTimeout, remotecommandconsts.DefaultStreamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// podExecutor adapts a pod to the streaming server's Executor.
type podExecutor struct{ rt *podRuntime }

func (e podExecutor) ExecInContainer(ctx context.Context, _ string, _ types.UID, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return e.rt.exec(ctx, container, cmd, in, out, errOut, tty, resize)
}

func (n *Node) servePortForward(w http.ResponseWriter, r *http.Request) {
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rt := n.runtimeFor(w, r)
	if rt == nil {
		return
	}
	portforward.ServePortForward(w, r, loopbackForwarder{}, rt.key(), rt.uid, opts,
		streamIdleTimeout, remotecommandconsts.DefaultStreamCreationTimeout, portforward.SupportedProtocols)
}

// loopbackForwarder connects to a pod's port on 127.0.0.1: pods share the
// host's network.
type loopbackForwarder struct{}

func (loopbackForwarder) PortForward(ctx context.Context, _ string, _ types.UID, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(nodeIP, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("connect to port %d of the pod (127.0.0.1:%d): %w", port, port, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

func (n *Node) serveLogs(w http.ResponseWriter, r *http.Request) {
	opts, previous, stream, err := logOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rt := n.runtimeFor(w, r)
	if rt == nil {
		return
	}
	path, writing, err := rt.logFile(r.PathValue("container"), previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	opts.Writing = writing
	w.Header().Set("Content-Type", "text/plain")
	fw := flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		fw.f = f
	}
	var stdout, stderr io.Writer = fw, fw
	switch stream {
	case corev1.LogStreamStdout:
		stderr = nil
	case corev1.LogStreamStderr:
		stdout = nil
	}
	if err := containerlog.Read(r.Context(), path, opts, stdout, stderr); err != nil {
		n.log.Warn("read container log", "path", path, "err", err)
	}
}

// logOptions reads the query of a containerLogs request: the fields of a v1
// PodLogOptions, which the API server passes on as they came.
func logOptions(r *http.Request) (opts containerlog.Options, previous bool, stream string, err error) {
	q := r.URL.Query()
	opts.TailLines = -1
	boolean := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("query parameter %s=%q is not a boolean", name, v)
		}
		return b, nil
	}
	integer := func(name string) (int64, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil || i < 0 {
			return 0, false, fmt.Errorf("query parameter %s=%q is not a non-negative integer", name, v)
		}
		return i, true, nil
	}
	if opts.Follow, err = boolean("follow"); err != nil {
		return
	}
	if previous, err = boolean("previous"); err != nil {
		return
	}
	if opts.Timestamps, err = boolean("timestamps"); err != nil {
		return
	}
	if tail := q.Get("tail"); tail != "" && tail != "all" && q.Get("tailLines") == "" {
		q.Set("tailLines", tail)
	}
	if n, ok, e := integer("tailLines"); e != nil {
		err = e
		return
	} else if ok {
		opts.TailLines = n
	}
	if opts.LimitBytes, _, err = integer("limitBytes"); err != nil {
		return
	}
	if s, ok, e := integer("sinceSeconds"); e != nil {
		err = e
		return
	} else if ok {
		opts.Since = time.Now().Add(-time.Duration(s) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, e := time.Parse(time.RFC3339, v)
		if e != nil {
			err = fmt.Errorf("query parameter sinceTime=%q is not an RFC 3339 time", v)
			return
		}
		opts.Since = t
	}
	stream = q.Get("stream")
	switch stream {
	case "", corev1.LogStreamAll, corev1.LogStreamStdout, corev1.LogStreamStderr:
	default:
		err = fmt.Errorf("query parameter stream=%q: use All, Stdout or Stderr", stream)
	}
	return
}

// flushWriter sends each write to the client at once, for `logs -f`.
type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

func (n *Node) servePods(w http.ResponseWriter, r *http.Request) {
	list := corev1.PodList{}
	list.APIVersion, list.Kind = "v1", "PodList"
	pods, err := n.podLister.List(everything)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, p := range pods {
		list.Items = append(list.Items, *p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}
