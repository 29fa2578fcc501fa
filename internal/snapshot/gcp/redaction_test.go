package gcp

import (
	"testing"

	"github.com/heptio/ark/internal/redact/redacttest"
)

// TestErrorsNeverQuoteSignatures: a transport error quotes the request URL,
// query string included; what the provider returns does not.
func TestErrorsNeverQuoteSignatures(t *testing.T) {
	redacttest.CheckRedacted(t, (&BlockStore{}).explain(redacttest.TransportError(), "creating a snapshot of %s", "vol-1"))
}
