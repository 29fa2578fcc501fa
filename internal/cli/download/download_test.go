package download

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const signature = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"

func presigned(hostPort, path string) string {
	return "http://" + hostPort + path + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20180102%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20180102T030405Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=" + signature
}

// TestFetchNeverPrintsTheSignature: whatever goes wrong with a signed URL,
// the error names where it went (scheme, host, path), never its signature
// or credential.
func TestFetchNeverPrintsTheSignature(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/denied":
			http.Error(w, "SignatureDoesNotMatch", http.StatusForbidden)
		case "/missing":
			http.NotFound(w, r)
		default:
			_, _ = w.Write([]byte("data"))
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, tc := range []struct {
		name, url, want string
	}{
		{"unreachable", presigned(closed, "/ark/b/b.tar.gz"), "downloading: Get \"http://" + closed + "/ark/b/b.tar.gz?REDACTED\""},
		{"refused", presigned(host, "/denied"), "downloading http://" + host + "/denied?REDACTED: HTTP 403 Forbidden"},
		{"not found", presigned(host, "/missing"), "HTTP 404"},
		{"unparseable", presigned(host, "/%zz"), "invalid download URL (http://" + host + "/%zz?REDACTED)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := fetch(context.Background(), tc.url)
			if err == nil {
				rc.Close()
				t.Fatal("fetch succeeded")
			}
			for _, secret := range []string{signature, "AKIAIOSFODNN7EXAMPLE"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds %s: %v", secret, err)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}

	rc, err := fetch(context.Background(), presigned(host, "/ok"))
	if err != nil {
		t.Fatalf("a good signed URL: %v", err)
	}
	rc.Close()
}
