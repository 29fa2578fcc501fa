// Package progress passes the latest progress of a running operation on at
// most once per interval, so an engine can report after every item while the
// status of its Backup or Restore is written about once a second.
package progress

import (
	"sync"
	"time"
)

// Reporter publishes the latest value given to Update, at most once per
// interval, from its own goroutine. Stop publishes nothing more.
type Reporter[T any] struct {
	mu      sync.Mutex
	latest  *T
	publish func(T)
	done    chan struct{}
	wg      sync.WaitGroup
}

// Start begins publishing every interval.
func Start[T any](interval time.Duration, publish func(T)) *Reporter[T] {
	p := &Reporter[T]{publish: publish, done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.mu.Lock()
				latest := p.latest
				p.latest = nil
				p.mu.Unlock()
				if latest != nil {
					p.publish(*latest)
				}
			}
		}
	}()
	return p
}

// Update records v as the latest progress. It never blocks on publishing.
func (p *Reporter[T]) Update(v T) {
	p.mu.Lock()
	p.latest = &v
	p.mu.Unlock()
}

// Stop ends publishing and waits for a publish under way.
func (p *Reporter[T]) Stop() { close(p.done); p.wg.Wait() }
