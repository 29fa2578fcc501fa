package gcp

import (
	"context"
	"testing"

	"github.com/heptio/ark/internal/redact/redacttest"
)

// TestErrorsNeverQuoteSignatures: a transport error quotes the request URL,
// query string included; what the provider returns does not.
func TestErrorsNeverQuoteSignatures(t *testing.T) {
	redacttest.CheckRedacted(t, (&Store{}).mapError(context.Background(), "get", "ark", "b/b.tar.gz", redacttest.TransportError()))
}
