// Package containerlog writes a container's stdout and stderr to a file in the
// CRI logging format the kubelet uses, and reads them back with the options of
// `kubectl logs` (since, tail, limit, timestamps, follow).
//
// One record per line:
//
//	2026-01-02T15:04:05.123456789Z stdout F the line
//
// F ends a line; P marks a fragment of a line longer than MaxLineBytes, whose
// rest follows in the next records of the same stream. Keeping the kubelet's
// format means each line carries its time and stream, which is what
// sinceTime, timestamps and a split by stream need.
package containerlog

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"
)

// MaxLineBytes is how much of a line without a newline is buffered before it
// is written as a partial record; the kubelet uses the same 16 KiB.
const MaxLineBytes = 16 << 10

// Stream names a container's output stream.
type Stream string

// The two streams a container writes.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// File is a log file that several streams write to concurrently.
type File struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
	err error
}

// Create opens path for appending, creating it if needed.
func Create(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &File{f: f, now: time.Now}, nil
}

// Close closes the file; writes after it fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// Copy reads r until EOF and writes each line as records of stream s. It
// returns the first write error; read errors other than EOF end it quietly,
// since a closed pipe is how a container's output ends.
func (l *File) Copy(s Stream, r io.Reader) error {
	w := l.Writer(s)
	_, err := io.Copy(w, r)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// Writer returns a writer that turns what is written into records of stream
// s. Call Flush when the stream ends, to write a last line without newline.
func (l *File) Writer(s Stream) *LineWriter {
	return &LineWriter{file: l, stream: s}
}

// LineWriter buffers the unfinished line of one stream.
type LineWriter struct {
	file    *File
	stream  Stream
	pending []byte
}

// Write implements io.Writer.
func (w *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.pending = append(w.pending, p...)
			for len(w.pending) >= MaxLineBytes {
				if err := w.file.record(w.stream, false, w.pending[:MaxLineBytes]); err != nil {
					return 0, err
				}
				w.pending = append(w.pending[:0], w.pending[MaxLineBytes:]...)
			}
			return n, nil
		}
		line := p[:i]
		if len(w.pending) > 0 {
			line = append(w.pending, line...)
			w.pending = w.pending[:0]
		}
		for len(line) > MaxLineBytes {
			if err := w.file.record(w.stream, false, line[:MaxLineBytes]); err != nil {
				return 0, err
			}
			line = line[MaxLineBytes:]
		}
		if err := w.file.record(w.stream, true, line); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// Flush writes a buffered line that has no newline yet as a full line.
func (w *LineWriter) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	err := w.file.record(w.stream, true, w.pending)
	w.pending = w.pending[:0]
	return err
}

func (l *File) record(s Stream, full bool, content []byte) error {
	tag := "P"
	if full {
		tag = "F"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	var b bytes.Buffer
	b.Grow(len(content) + 48)
	b.WriteString(l.now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(string(s))
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(content)
	b.WriteByte('\n')
	if _, err := l.f.Write(b.Bytes()); err != nil {
		l.err = err
		return err
	}
	return nil
}
