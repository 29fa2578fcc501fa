package adaptive

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A server that takes `capacity` requests at once and answers 429 beyond it.
func overloadedServer(capacity int64, served, rejected *atomic.Int64) *httptest.Server {
	var inflight atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if inflight.Add(1) > capacity {
			inflight.Add(-1)
			rejected.Add(1)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		defer inflight.Add(-1)
		time.Sleep(2 * time.Millisecond)
		served.Add(1)
	}))
}

// createMany sends creates to url from callers goroutines, each sending
// each requests, and returns when all are answered.
func createMany(t *testing.T, c *http.Client, url string, callers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range each {
				resp, err := c.Post(url+"/api/v1/namespaces/a/configmaps", "application/json", nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

func TestLimiterBacksOffOn429(t *testing.T) {
	var served, rejected atomic.Int64
	srv := overloadedServer(4, &served, &rejected)
	defer srv.Close()
	l := New(Options{Initial: 32, Max: 64})
	c := &http.Client{Transport: Transport(l, http.DefaultTransport)}

	createMany(t, c, srv.URL, 32, 40)
	if l.Limit() > 8 {
		t.Errorf("limit is %d after a server that takes 4 at once answered 429 %d times; want it near 4", l.Limit(), rejected.Load())
	}
	if rejected.Load() == 0 || served.Load() == 0 {
		t.Fatalf("served %d, rejected %d: the test did not overload the server", served.Load(), rejected.Load())
	}
	// A fixed 32 in flight against 4 seats would see most requests refused.
	if r := rejected.Load(); r > served.Load() {
		t.Errorf("rejected %d for %d served: the limiter did not back off", r, served.Load())
	}
}

func TestLimiterGrowsWhileFast(t *testing.T) {
	l := New(Options{Initial: 2, Max: 40, LatencyFloor: time.Hour}) // growth only: no latency signal on a loaded test machine
	ctx := context.Background()
	// Callers that always want more than the limit, answered fast.
	for range 200 {
		var sent []time.Time
		for range l.Limit() {
			s, err := l.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, s)
		}
		for _, s := range sent {
			l.Release(s, Succeeded)
		}
	}
	if l.Limit() != 40 {
		t.Errorf("limit %d after 200 fast rounds, want the maximum 40", l.Limit())
	}
}

func TestLimiterDoesNotGrowUnused(t *testing.T) {
	l := New(Options{Initial: 8, Max: 100, LatencyFloor: time.Hour})
	for range 1000 {
		s, _ := l.Acquire(context.Background())
		l.Release(s, Succeeded)
	}
	if l.Limit() != 8 {
		t.Errorf("limit %d after one request at a time; it should stay at 8 when unused", l.Limit())
	}
}

func TestLimiterShrinksOnLatency(t *testing.T) {
	l := New(Options{Initial: 20, Tolerance: 2, LatencyFloor: time.Millisecond})
	ctx := context.Background()
	for range 50 { // the API server's usual latency: immediate
		s, _ := l.Acquire(ctx)
		l.Release(s, Succeeded)
	}
	s, _ := l.Acquire(ctx)
	time.Sleep(30 * time.Millisecond) // suddenly far above it, and above the floor
	l.Release(s, Succeeded)
	if l.Limit() != 18 {
		t.Errorf("limit %d after a sudden slow answer, want 18 (a tenth off 20)", l.Limit())
	}
}

// An API server busy but not overloaded answers more slowly the more
// requests it has, at a steady throughput. That is no reason to shrink:
// a limiter that compared latency with the fastest answer ever seen held
// restores to a fraction of what the API server could take.
func TestLimiterKeepsUpWithLatencyThatFollowsLoad(t *testing.T) {
	var inflight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		time.Sleep(time.Duration(n) * 200 * time.Microsecond) // 5,000 answers/s whatever the load
	}))
	defer srv.Close()
	l := New(Options{Initial: 4, Max: 64})
	c := &http.Client{Transport: Transport(l, http.DefaultTransport)}
	createMany(t, c, srv.URL, 64, 60)
	if l.Limit() < 16 {
		t.Errorf("limit %d after 3,840 answers whose latency only followed the load; want it well above the initial 4", l.Limit())
	}
}

func TestLimiterCutsOncePerWindow(t *testing.T) {
	l := New(Options{Initial: 16})
	ctx := context.Background()
	var sent []time.Time
	for range 8 {
		s, _ := l.Acquire(ctx)
		sent = append(sent, s)
	}
	for _, s := range sent { // one burst of 429s, all sent before the cut
		l.Release(s, Overloaded)
	}
	if l.Limit() != 8 {
		t.Errorf("limit %d after one burst of 429s, want 8 (halved once)", l.Limit())
	}
}

func TestAcquireWaitsAndHonoursContext(t *testing.T) {
	l := New(Options{Initial: 1, Max: 1})
	s, _ := l.Acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); err == nil {
		t.Fatal("a second request got through a limit of 1")
	}
	got := make(chan struct{})
	go func() {
		s2, err := l.Acquire(context.Background())
		if err == nil {
			l.Release(s2, Ignored)
		}
		close(got)
	}()
	l.Release(s, Ignored)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting request was not granted when the slot freed")
	}
}

func TestGoverned(t *testing.T) {
	for _, c := range []struct {
		method, path string
		upgrade      bool
		want         bool
	}{
		{"POST", "/api/v1/namespaces/a/configmaps", false, true},
		{"PATCH", "/apis/ark.heptio.com/v1/namespaces/heptio-ark/restores/r/status", false, true},
		{"GET", "/api/v1/namespaces/a/configmaps", false, false},
		{"POST", "/api/v1/namespaces/a/pods/p/exec", false, false},
		{"POST", "/api/v1/namespaces/a/pods/p/exec", true, false},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/heptio-ark/leases/ark", false, false},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.upgrade {
			req.Header.Set("Upgrade", "websocket")
		}
		if got := Governed(req); got != c.want {
			t.Errorf("Governed(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
