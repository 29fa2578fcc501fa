// Package redacttest checks, for any provider, that an error it returns
// never quotes a credential or a URL signature.
package redacttest

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

const (
	signature = "Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MGFiY2RlZg"
	accessKey = "AKIAIOSFODNN7EXAMPLE"
)

// TransportError is what an SDK returns when a signed request fails in
// transport: a *url.Error quoting the whole URL, query string included.
func TransportError() error {
	signed := "https://arkstorage.example.com/ark/b/b.tar.gz?sv=2021-08-06&sr=b&sp=r&sig=" + signature +
		"&X-Amz-Credential=" + accessKey + "%2F20180102&X-Amz-Signature=" + signature
	return &url.Error{Op: "Get", URL: signed, Err: errors.New("dial tcp 10.0.0.1:443: i/o timeout")}
}

// CheckRedacted fails t when got, a provider's rendering of
// TransportError(), quotes the signature or the access key, no longer says
// which URL failed, or hides the *url.Error from errors.As.
func CheckRedacted(t *testing.T, got error) {
	t.Helper()
	if got == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{signature, accessKey} {
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
