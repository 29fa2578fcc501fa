// Package heapmeter measures the Go heap for the memory benchmarks: the
// bytes of heap objects now, and the largest seen over a stretch of work.
package heapmeter

import (
	"runtime/metrics"
	"sync"
	"time"
)

const heapObjects = "/memory/classes/heap/objects:bytes"

// Bytes is the heap's objects now, live and not yet collected.
func Bytes() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Sampler records the largest heap seen, sampled every millisecond, until
// Stop.
type Sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  uint64
}

// Start begins sampling.
func Start() *Sampler {
	s := &Sampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			s.max = max(s.max, Bytes())
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the largest heap seen.
func (s *Sampler) Stop() uint64 {
	close(s.done)
	s.wg.Wait()
	return max(s.max, Bytes())
}
