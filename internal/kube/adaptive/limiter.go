// Package adaptive bounds how many requests Ark has in flight at the API
// server with a limit that follows the API server's answers, instead of a
// fixed client-side rate: it grows while requests succeed quickly, and
// shrinks when the API server says it is overloaded (429, which priority and
// fairness answers with Retry-After) or when latency rises well above what
// it is when the server is idle.
//
// The algorithm is AIMD with a latency gradient, as in TCP congestion
// control and Netflix's concurrency-limits (Gradient2): slow start (+1 per
// success) until the first sign of overload, then +1 per window of
// successes; halve on a 429, take a tenth off when the short-term latency
// (an average of the last few answers) exceeds Tolerance times the
// long-term one (an average of the last few hundred) and LatencyFloor. A
// decrease is applied at most once per window: only a request sent after
// the last decrease can cause the next one, so one burst of 429s counts once.
//
// The latency signal compares the API server with its recent self, not with
// its fastest answer: on a busy API server latency grows with the requests
// in flight long before it is overloaded (a create that takes 2 ms alone
// takes 30 ms among 16 on two cores, at a higher throughput), so a limit
// held to a few times the fastest answer would keep Ark at a fraction of
// what the server can take. What signals trouble is latency rising quickly
// at the same load; steady overload is the API server's to say, with 429.
//
// It is hand-written because it is sixty lines: the Go ports of
// concurrency-limits are large, third-party and unmaintained, and would be
// the only dependency of their kind.
package adaptive

import (
	"container/list"
	"context"
	"math"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultInitial   = 8
	DefaultMin       = 1
	DefaultMax       = 256
	DefaultTolerance = 2
	// DefaultLatencyFloor: latencies under it are never a sign of overload;
	// at a few milliseconds the variation is noise, not queueing.
	DefaultLatencyFloor = 5 * time.Millisecond
)

// Options tune a Limiter; the zero value takes the defaults.
type Options struct {
	// Initial, Min and Max bound the number of requests in flight.
	Initial, Min, Max int
	// Tolerance: a short-term latency above Tolerance × the long-term one
	// is a sign of overload.
	Tolerance float64
	// LatencyFloor: a latency under it never counts as overload.
	LatencyFloor time.Duration
	// OnChange, when set, is called with the new limit after each change
	// (for a metric); it must not block.
	OnChange func(limit int)
}

// Limiter is a concurrency limit shared by everything that sends the
// requests it governs; it is safe for concurrent use.
type Limiter struct {
	opts Options

	mu        sync.Mutex
	limit     float64
	inflight  int
	waiters   list.List // of chan struct{}, granted in order
	slowStart bool
	// shortLatency and longLatency are moving averages of the latency of
	// the last shortWindow and longWindow answers.
	shortLatency, longLatency float64
	lastCut                   time.Time
}

// New returns a Limiter.
func New(opts Options) *Limiter {
	if opts.Min <= 0 {
		opts.Min = DefaultMin
	}
	if opts.Max <= 0 {
		opts.Max = DefaultMax
	}
	if opts.Max < opts.Min {
		opts.Max = opts.Min
	}
	if opts.Initial <= 0 {
		opts.Initial = DefaultInitial
	}
	opts.Initial = min(max(opts.Initial, opts.Min), opts.Max)
	if opts.Tolerance <= 1 {
		opts.Tolerance = DefaultTolerance
	}
	if opts.LatencyFloor <= 0 {
		opts.LatencyFloor = DefaultLatencyFloor
	}
	return &Limiter{opts: opts, limit: float64(opts.Initial), slowStart: true}
}

// Limit is the current limit.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// Acquire waits until a request may be sent and returns the time it was
// allowed (pass it to Release), or the context's error.
func (l *Limiter) Acquire(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	if l.inflight < int(l.limit) && l.waiters.Len() == 0 {
		l.inflight++
		l.mu.Unlock()
		return time.Now(), nil
	}
	grant := make(chan struct{})
	e := l.waiters.PushBack(grant)
	l.mu.Unlock()
	select {
	case <-grant:
		return time.Now(), nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		select {
		case <-grant: // granted while giving up: hand the slot on
			l.inflight--
			l.grantLocked()
		default:
			l.waiters.Remove(e)
		}
		return time.Time{}, ctx.Err()
	}
}

// Outcome is what became of one request.
type Outcome int

const (
	// Succeeded: the API server answered (whatever the answer, short of
	// overload); its latency counts.
	Succeeded Outcome = iota
	// Overloaded: the API server answered 429 or 503 with Retry-After.
	Overloaded
	// Ignored: the request says nothing of the API server's load (a
	// transport error, a cancelled request).
	Ignored
)

// Release ends a request started at sent (Acquire's time) and adapts the
// limit to how it went.
func (l *Limiter) Release(sent time.Time, outcome Outcome) {
	latency := time.Since(sent)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	before := int(l.limit)
	switch outcome {
	case Overloaded:
		l.decreaseLocked(sent, 0.5)
	case Succeeded:
		l.observeLocked(sent, latency)
	}
	if int(l.limit) != before && l.opts.OnChange != nil {
		l.opts.OnChange(int(l.limit))
	}
	l.grantLocked()
}

// The sizes of the latency averages, in answers: the short one smooths out
// a single slow answer (a garbage collection, an etcd fsync); the long one
// follows the API server's latency at the load it has.
const (
	shortWindow = 10
	longWindow  = 200
)

func (l *Limiter) observeLocked(sent time.Time, latency time.Duration) {
	x := float64(latency)
	if l.longLatency == 0 {
		l.shortLatency, l.longLatency = x, x
	} else {
		l.shortLatency += (x - l.shortLatency) / shortWindow
		l.longLatency += (x - l.longLatency) / longWindow
	}
	if l.shortLatency > float64(l.opts.LatencyFloor) && l.shortLatency > l.opts.Tolerance*l.longLatency {
		l.decreaseLocked(sent, 0.9)
		return
	}
	// Grow only when the limit is what holds requests back: a limit far
	// above what callers use says nothing about what the server can take.
	if l.inflight+1 < int(l.limit) && l.waiters.Len() == 0 {
		return
	}
	if l.slowStart {
		l.limit++
	} else {
		l.limit += 1 / l.limit
	}
	l.limit = math.Min(l.limit, float64(l.opts.Max))
}

func (l *Limiter) decreaseLocked(sent time.Time, factor float64) {
	l.slowStart = false
	if !sent.After(l.lastCut) {
		return // this request was already in flight at the last decrease
	}
	l.lastCut = time.Now()
	l.limit = math.Max(float64(l.opts.Min), math.Floor(l.limit*factor))
}

func (l *Limiter) grantLocked() {
	for l.inflight < int(l.limit) && l.waiters.Len() > 0 {
		grant := l.waiters.Remove(l.waiters.Front()).(chan struct{})
		l.inflight++
		close(grant)
	}
}
