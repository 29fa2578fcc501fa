package hooks

import (
	"fmt"
	"sync"
)

// DefaultMaxOutput is how much of each of a hook's stdout and stderr is
// kept for the log; the rest is counted, not stored, so a chatty hook
// cannot fill the server's memory or the operation's log.
const DefaultMaxOutput = 16 << 10

// boundedBuffer keeps the first limit bytes written to it and counts the
// others. It never fails a write: the stream from the pod must be drained
// whatever its size. The exec's streams may still be written after the
// exec returned (a timeout), hence the lock.
type boundedBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	dropped int64
}

func newBoundedBuffer(limit int) *boundedBuffer {
	return &boundedBuffer{limit: limit}
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(len(p), b.limit-len(b.buf))
	if keep > 0 {
		b.buf = append(b.buf, p[:keep]...)
	}
	b.dropped += int64(len(p) - max(keep, 0))
	return len(p), nil
}

// String is what was kept, with a note of what was not.
func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.buf)
	}
	return fmt.Sprintf("%s... [%d more bytes not kept]", b.buf, b.dropped)
}

// tail is the last n bytes kept, for an error message.
func (b *boundedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) <= n {
		return string(b.buf)
	}
	return "..." + string(b.buf[len(b.buf)-n:])
}
