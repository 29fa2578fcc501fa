package unreachable

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
)

func TestEndpointOnRefusedConnection(t *testing.T) {
	// Grab a free port, then close it so nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	_, err = http.Get("http://" + addr + "/bucket/key?X-Amz-Signature=secret")
	if err == nil {
		t.Fatal("GET on a closed port succeeded")
	}
	wrapped := fmt.Errorf("operation error S3: GetObject: %w", err)
	ep, ok := Endpoint(wrapped)
	if !ok {
		t.Fatalf("Endpoint(%v) = not unreachable", wrapped)
	}
	if want := "http://" + addr; ep != want {
		t.Errorf("endpoint = %q, want %q (no path or query)", ep, want)
	}
}

func TestEndpointIgnoresServiceAndContextErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/", nil)
	_, ctxErr := http.DefaultClient.Do(req)
	for name, err := range map[string]error{
		"nil":       nil,
		"plain":     errors.New("NoSuchBucket: the bucket does not exist"),
		"cancelled": ctxErr,
	} {
		if ep, ok := Endpoint(err); ok {
			t.Errorf("%s: Endpoint(%v) = %q, true; want false", name, err, ep)
		}
	}
}
