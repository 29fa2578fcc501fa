// Package oplog is the log of one operation (a backup or a restore): what
// the operation logs goes both to the server's own log and, gzipped, into a
// temporary file that is uploaded next to the operation's other files when it
// ends, so `ark backup logs` and `ark restore logs` show it later.
package oplog

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/heptio/ark/internal/redact"
	"github.com/heptio/ark/internal/tempfiles"
)

// Log is one operation's log.
type Log struct {
	// Logger writes to the operation's file and to the server's handler.
	Logger *slog.Logger
	path   string
	file   *os.File
	// held keeps the file from being taken for a crashed server's
	// leftover (tempfiles.RemoveStale) until Remove.
	held   *tempfiles.Lock
	zw     *gzip.Writer
	mu     sync.Mutex
	closed bool
}

// New makes a log whose records also go to server, the server's own handler.
func New(server slog.Handler) (*Log, error) {
	f, held, err := tempfiles.CreateFile("", TempPattern)
	if err != nil {
		return nil, err
	}
	l := &Log{path: f.Name(), file: f, held: held, zw: gzip.NewWriter(f)}
	// The file is uploaded and shown by `ark backup logs`: what the
	// server's log would redact is redacted here too.
	own := redact.Handler(slog.NewTextHandler(lockedWriter{l}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l.Logger = slog.New(tee{own, server})
	return l, nil
}

// TempPattern is the name pattern of the temporary files, so a server that
// starts can remove those a crashed one left behind (tempfiles.RemoveStale:
// a live server holds a lock on each of its own).
const TempPattern = "ark-log-*.gz"

type lockedWriter struct{ l *Log }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if w.l.closed {
		return len(p), nil
	}
	return w.l.zw.Write(p)
}

// Close flushes the log; records logged later reach only the server's log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if err := l.zw.Close(); err != nil {
		_ = l.file.Close()
		return err
	}
	return l.file.Close()
}

// Open closes the log and opens the gzipped file for upload.
func (l *Log) Open() (io.ReadCloser, error) {
	if err := l.Close(); err != nil {
		return nil, err
	}
	return os.Open(l.path)
}

// Remove closes the log and deletes its temporary file.
func (l *Log) Remove() { _ = l.Close(); _ = os.Remove(l.path); _ = l.held.Release() }

// tee sends each record to two handlers.
type tee struct{ a, b slog.Handler }

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	if t.a.Enabled(ctx, r.Level) {
		_ = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		return t.b.Handle(ctx, r)
	}
	return nil
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler { return tee{t.a.WithAttrs(as), t.b.WithAttrs(as)} }

func (t tee) WithGroup(n string) slog.Handler { return tee{t.a.WithGroup(n), t.b.WithGroup(n)} }
