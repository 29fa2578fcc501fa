package azure

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestErrorsNeverQuoteSignatures: a transport error quotes the request URL,
// query string included; what the provider returns does not.
func TestErrorsNeverQuoteSignatures(t *testing.T) {
	const signature = "Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MGFiY2RlZg"
	signed := "https://arkstorage.example.com/ark/b/b.tar.gz?sv=2021-08-06&sr=b&sp=r&sig=" + signature +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20180102&X-Amz-Signature=" + signature
	var err error = &url.Error{Op: "Get", URL: signed, Err: errors.New("dial tcp 10.0.0.1:443: i/o timeout")}
	got := (&Store{account: "arkstorage"}).mapError("get", "ark", "b/b.tar.gz", err)
	if got == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{signature, "AKIAIOSFODNN7EXAMPLE"} {
		if strings.Contains(got.Error(), secret) {
			t.Errorf("the error holds %s: %v", secret, got)
		}
	}
	if !strings.Contains(got.Error(), "https://arkstorage.example.com/ark/b/b.tar.gz?REDACTED") {
		t.Errorf("the error no longer says which URL failed: %v", got)
	}
	var urlErr *url.Error
	if !errors.As(got, &urlErr) {
		t.Error("errors.As no longer finds the *url.Error")
	}
}
