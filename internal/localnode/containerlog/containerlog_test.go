package containerlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock hands out times one second apart, so Since can cut between lines.
func fakeClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	t := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func writeLog(t *testing.T, writes ...[2]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.log")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.now = fakeClock(t0)
	ws := map[Stream]*LineWriter{Stdout: f.Writer(Stdout), Stderr: f.Writer(Stderr)}
	for _, w := range writes {
		if _, err := ws[Stream(w[0])].Write([]byte(w[1])); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range ws {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func read(t *testing.T, path string, opts Options) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := Read(context.Background(), path, opts, &out, &errb); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out.String(), errb.String()
}

func TestRecordsCarryStreamAndTime(t *testing.T) {
	path := writeLog(t, [2]string{"stdout", "one\ntw"}, [2]string{"stderr", "oops\n"}, [2]string{"stdout", "o\nthree"})
	data, _ := os.ReadFile(path)
	want := "2026-01-02T03:04:06Z stdout F one\n" +
		"2026-01-02T03:04:07Z stderr F oops\n" +
		"2026-01-02T03:04:08Z stdout F two\n" +
		"2026-01-02T03:04:09Z stdout F three\n"
	if string(data) != want {
		t.Fatalf("file =\n%s\nwant\n%s", data, want)
	}
	out, errs := read(t, path, Options{TailLines: -1})
	if out != "one\ntwo\nthree\n" || errs != "oops\n" {
		t.Fatalf("stdout %q stderr %q", out, errs)
	}
	// Both streams into one writer keep their order in the file.
	var all bytes.Buffer
	if err := Read(context.Background(), path, Options{TailLines: -1}, &all, &all); err != nil {
		t.Fatal(err)
	}
	if all.String() != "one\noops\ntwo\nthree\n" {
		t.Fatalf("combined = %q", all.String())
	}
	// A nil writer drops its stream.
	var only bytes.Buffer
	if err := Read(context.Background(), path, Options{TailLines: -1}, nil, &only); err != nil {
		t.Fatal(err)
	}
	if only.String() != "oops\n" {
		t.Fatalf("stderr only = %q", only.String())
	}
}

func TestTailSinceLimitTimestamps(t *testing.T) {
	path := writeLog(t, [2]string{"stdout", "a\nb\nc\nd\n"})
	if out, _ := read(t, path, Options{TailLines: 2}); out != "c\nd\n" {
		t.Fatalf("tail 2 = %q", out)
	}
	if out, _ := read(t, path, Options{TailLines: 0}); out != "" {
		t.Fatalf("tail 0 = %q", out)
	}
	if out, _ := read(t, path, Options{TailLines: 10}); out != "a\nb\nc\nd\n" {
		t.Fatalf("tail 10 = %q", out)
	}
	if out, _ := read(t, path, Options{TailLines: -1, Since: t0.Add(3 * time.Second)}); out != "c\nd\n" {
		t.Fatalf("since = %q", out)
	}
	if out, _ := read(t, path, Options{TailLines: -1, LimitBytes: 3}); out != "a\nb" {
		t.Fatalf("limit 3 = %q", out)
	}
	if out, _ := read(t, path, Options{TailLines: 1, Timestamps: true}); out != "2026-01-02T03:04:09Z d\n" {
		t.Fatalf("timestamps = %q", out)
	}
}

func TestLongLinesAreSplitAndJoined(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+10)
	path := writeLog(t, [2]string{"stdout", long + "\nshort\n"})
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), " stdout P "); n != 1 {
		t.Fatalf("%d partial records, want 1", n)
	}
	out, _ := read(t, path, Options{TailLines: 1})
	if out != "short\n" {
		t.Fatalf("tail 1 = %q", out)
	}
	out, _ = read(t, path, Options{TailLines: 2})
	if out != long+"\nshort\n" {
		t.Fatalf("tail 2 has %d bytes, want %d", len(out), len(long)+7)
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	out, errs := read(t, filepath.Join(t.TempDir(), "none"), Options{TailLines: -1})
	if out != "" || errs != "" {
		t.Fatalf("got %q %q", out, errs)
	}
}

func TestMalformedRecordIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(path, []byte("not a record\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Read(context.Background(), path, Options{TailLines: -1}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("err = %v", err)
	}
}

// syncBuffer is written by Read while the test polls it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFollowReadsUntilTheWriterEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var writing atomic.Bool
	writing.Store(true)
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, Options{TailLines: -1, Follow: true, Writing: writing.Load, PollInterval: 5 * time.Millisecond}, &out, &out)
	}()
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := f.Writer(Stdout)
	if _, err := w.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "first\n" {
		if time.Now().After(deadline) {
			t.Fatalf("follow did not deliver the first line: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Read returned while the container writes: %v", err)
	default:
	}
	if _, err := w.Write([]byte("last\n")); err != nil {
		t.Fatal(err)
	}
	writing.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not end after the container stopped writing")
	}
	if out.String() != "first\nlast\n" {
		t.Fatalf("followed = %q", out.String())
	}
	f.Close()
}

func TestFollowEndsWithContext(t *testing.T) {
	path := writeLog(t, [2]string{"stdout", "x\n"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- Read(ctx, path, Options{TailLines: -1, Follow: true, Writing: func() bool { return true }, PollInterval: 5 * time.Millisecond}, &out, &out)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Read ignored the cancelled context")
	}
}
