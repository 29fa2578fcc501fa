package adaptive

import (
	"net/http"
	"strings"
)

// Transport wraps rt so that the requests it governs (see Governed) wait for
// the limiter, and their answers adapt it. Use it as a rest.Config's
// WrapTransport:
//
//	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return adaptive.Transport(l, rt) }
func Transport(l *Limiter, rt http.RoundTripper) http.RoundTripper {
	return &transport{l: l, rt: rt}
}

type transport struct {
	l  *Limiter
	rt http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !Governed(req) {
		return t.rt.RoundTrip(req)
	}
	sent, err := t.l.Acquire(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := t.rt.RoundTrip(req)
	t.l.Release(sent, outcome(resp, err))
	return resp, err
}

// Governed says whether a request is one the limiter governs: writes
// (create, update, patch, delete), which are what a restore sends by the
// thousand and what the API server's mutating limit counts. Reads, watches
// and streams (exec, attach, port-forward, which last as long as their
// command) are left alone, as are Lease updates: a leader that waited behind
// a restore's queue could lose its lease.
func Governed(req *http.Request) bool {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	if req.Header.Get("Upgrade") != "" || req.Header.Get("Connection") == "Upgrade" {
		return false
	}
	p := req.URL.Path
	for _, stream := range []string{"/exec", "/attach", "/portforward", "/proxy"} {
		if strings.HasSuffix(p, stream) || strings.Contains(p, stream+"/") {
			return false
		}
	}
	return !strings.Contains(p, "/apis/coordination.k8s.io/")
}

func outcome(resp *http.Response, err error) Outcome {
	switch {
	case err != nil:
		return Ignored
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		return Overloaded
	}
	return Succeeded
}
