package containerlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Options select what Read returns, as the fields of the same name in a
// PodLogOptions.
type Options struct {
	// Since drops lines written before it; zero keeps all.
	Since time.Time
	// TailLines keeps only the last lines (after Since); negative keeps all.
	TailLines int64
	// LimitBytes stops after this many bytes; zero or negative is no limit.
	LimitBytes int64
	// Timestamps prefixes each line with the RFC 3339 time it was written.
	Timestamps bool
	// Follow keeps reading as the file grows, for as long as Writing says
	// the container writes, or until ctx ends.
	Follow bool
	// Writing reports whether the container may still write; only Follow
	// uses it. Nil means it does not.
	Writing func() bool
	// PollInterval is how often a followed file is checked; default 100 ms.
	PollInterval time.Duration
}

// errLimit ends a read once LimitBytes have been written.
var errLimit = errors.New("limit reached")

// Read writes the lines of the log at path to stdout and stderr by the stream
// they came from; a nil writer drops its stream. A missing file reads as empty
// (the container has not written yet).
func Read(ctx context.Context, path string, opts Options, stdout, stderr io.Writer) error {
	skip := int64(0)
	if opts.TailLines >= 0 {
		total, err := countLines(path, opts, stdout, stderr)
		if err != nil {
			return err
		}
		if total > opts.TailLines {
			skip = total - opts.TailLines
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && opts.Follow {
		// The container may not have started writing: wait for the file.
		for errors.Is(err, os.ErrNotExist) && ctx.Err() == nil && opts.Writing != nil && opts.Writing() {
			sleep(ctx, opts.pollInterval())
			f, err = os.Open(path)
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()

	out := &output{stdout: stdout, stderr: stderr, remaining: opts.LimitBytes, timestamps: opts.Timestamps}
	r := bufio.NewReader(f)
	var carry []byte // a record not yet complete at the end of the file
	for {
		chunk, readErr := r.ReadBytes('\n')
		if len(chunk) > 0 {
			if readErr != nil { // no newline: the writer is half-way through a record
				carry = append(carry, chunk...)
			} else {
				line := chunk
				if len(carry) > 0 {
					line = append(carry, chunk...)
					carry = nil
				}
				rec, err := parse(line)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				if rec.wanted(opts, stdout, stderr) {
					if skip > 0 {
						if rec.full {
							skip--
						}
					} else if err := out.write(rec); err != nil {
						if errors.Is(err, errLimit) {
							return nil
						}
						return err
					}
				}
			}
		}
		if readErr == nil {
			continue
		}
		if readErr != io.EOF {
			return readErr
		}
		if !opts.Follow || ctx.Err() != nil {
			return nil
		}
		if opts.Writing == nil || !opts.Writing() {
			// One more pass: what was written between the last read and
			// the container's end.
			opts.Follow = false
			continue
		}
		sleep(ctx, opts.pollInterval())
	}
}

func (o Options) pollInterval() time.Duration {
	if o.PollInterval > 0 {
		return o.PollInterval
	}
	return 100 * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// countLines counts the complete lines Read would write without TailLines.
func countLines(path string, opts Options, stdout, stderr io.Writer) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return n, nil // a record without newline is still being written
		}
		if err != nil {
			return 0, err
		}
		rec, perr := parse(line)
		if perr != nil {
			return 0, fmt.Errorf("%s: %w", path, perr)
		}
		if rec.full && rec.wanted(opts, stdout, stderr) {
			n++
		}
	}
}

type record struct {
	time    time.Time
	stream  Stream
	full    bool
	content []byte
}

// parse reads one record, its trailing newline included.
func parse(line []byte) (record, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	fields := bytes.SplitN(line, []byte(" "), 4)
	if len(fields) < 3 {
		return record{}, fmt.Errorf("malformed log record %q", truncate(line))
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return record{}, fmt.Errorf("malformed time in log record %q: %v", truncate(line), err)
	}
	rec := record{time: t, stream: Stream(fields[1])}
	switch string(fields[2]) {
	case "F":
		rec.full = true
	case "P":
	default:
		return record{}, fmt.Errorf("malformed tag in log record %q", truncate(line))
	}
	if len(fields) == 4 {
		rec.content = fields[3]
	}
	return rec, nil
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

func (r record) wanted(opts Options, stdout, stderr io.Writer) bool {
	if !opts.Since.IsZero() && r.time.Before(opts.Since) {
		return false
	}
	switch r.stream {
	case Stdout:
		return stdout != nil
	case Stderr:
		return stderr != nil
	default:
		return false
	}
}

// output writes records, adds timestamps at the start of lines, and enforces
// LimitBytes.
type output struct {
	stdout, stderr io.Writer
	remaining      int64 // <= 0: unlimited
	timestamps     bool
	midLine        map[Stream]bool
}

func (o *output) write(r record) error {
	w := o.stdout
	if r.stream == Stderr {
		w = o.stderr
	}
	var b []byte
	if o.timestamps && !o.midLine[r.stream] {
		b = append(b, r.time.Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, r.content...)
	if r.full {
		b = append(b, '\n')
	}
	if o.midLine == nil {
		o.midLine = map[Stream]bool{}
	}
	o.midLine[r.stream] = !r.full
	limited := false
	if o.remaining > 0 {
		if int64(len(b)) >= o.remaining {
			b, limited = b[:o.remaining], true
		}
		o.remaining -= int64(len(b))
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if f, ok := w.(interface{ Flush() }); ok {
		f.Flush()
	}
	if limited {
		return errLimit
	}
	return nil
}
