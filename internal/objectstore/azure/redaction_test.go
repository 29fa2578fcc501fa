package azure

import (
	"testing"

	"github.com/heptio/ark/internal/redact/redacttest"
)

// TestErrorsNeverQuoteSignatures: a transport error quotes the request URL,
// query string included; what the provider returns does not.
func TestErrorsNeverQuoteSignatures(t *testing.T) {
	redacttest.CheckRedacted(t, (&Store{account: "arkstorage"}).mapError("get", "ark", "b/b.tar.gz", redacttest.TransportError()))
}
