package restoreplan

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// File is a stored plan:
//
//	{"counts": {...}, "groups": [...], "notes": [...], "items": [{"outcome": ..., "resource": ..., ...}, ...]}
//
// gzipped, as restore-<name>-plan.gz beside the restore's results.
type File struct {
	Summary
	Items []Item `json:"items"`
}

// Spool keeps the items of a plan in a temporary file as they are recorded,
// so that a dry run of a million items holds none of them in memory.
type Spool struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
	n   int
	err error
}

// NewSpool creates the spool's file in dir ("" for the default temporary
// directory). Remove it with Close.
func NewSpool(dir string) (*Spool, error) {
	f, err := os.CreateTemp(dir, "ark-restore-plan-*")
	if err != nil {
		return nil, fmt.Errorf("creating the plan's temporary file: %w", err)
	}
	w := bufio.NewWriter(f)
	return &Spool{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

// Record appends an item (one JSON line).
func (s *Spool) Record(it Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.enc.Encode(it)
		s.n++
	}
}

// WriteTo writes the whole plan, gzipped, to w: the summary, then the items
// recorded, streamed from the spool.
func (s *Spool) WriteTo(w io.Writer, sum Summary) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("recording the plan: %w", s.err)
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zw := gzip.NewWriter(w)
	head, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	// The summary's object, reopened to append the items.
	if _, err := zw.Write(head[:len(head)-1]); err != nil {
		return err
	}
	if _, err := io.WriteString(zw, `,"items":[`); err != nil {
		return err
	}
	lines := bufio.NewScanner(s.f)
	lines.Buffer(make([]byte, 64<<10), 16<<20)
	for i := 0; lines.Scan(); i++ {
		if i > 0 {
			if _, err := io.WriteString(zw, ","); err != nil {
				return err
			}
		}
		if _, err := zw.Write(lines.Bytes()); err != nil {
			return err
		}
	}
	if err := lines.Err(); err != nil {
		return fmt.Errorf("reading the plan's temporary file: %w", err)
	}
	if _, err := io.WriteString(zw, "]}"); err != nil {
		return err
	}
	return zw.Close()
}

// Len is the number of items recorded.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Close removes the spool's file.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.f.Close(), os.Remove(s.f.Name()))
}

// maxPlanSize bounds what Read decompresses, so a hostile file cannot
// exhaust memory.
const maxPlanSize = 1 << 30

// Read reads a stored plan.
func Read(gzipped io.Reader) (*File, error) {
	zr, err := gzip.NewReader(gzipped)
	if err != nil {
		return nil, fmt.Errorf("the plan is not gzip data: %w", err)
	}
	defer zr.Close()
	var f File
	if err := json.NewDecoder(io.LimitReader(zr, maxPlanSize)).Decode(&f); err != nil {
		return nil, fmt.Errorf("the plan is not valid: %w", err)
	}
	return &f, nil
}
