package oplog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestTheUploadedLogHasNoSignatures: an operation's log is uploaded and
// shown by `ark backup logs`; a signed URL logged during the operation
// loses its query string there.
func TestTheUploadedLogHasNoSignatures(t *testing.T) {
	const signature = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	signed := "https://ark-backups.s3.amazonaws.com/b/b.tar.gz?X-Amz-Signature=" + signature
	var server bytes.Buffer
	l, err := New(slog.NewTextHandler(&server, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Remove()
	l.Logger.Info("uploading to "+signed, "url", signed, "err", errors.New("Get \""+signed+"\": timeout"))
	rc, err := l.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), signature) {
		t.Errorf("the operation's log holds the signature:\n%s", data)
	}
	if !strings.Contains(string(data), "https://ark-backups.s3.amazonaws.com/b/b.tar.gz?REDACTED") {
		t.Errorf("the operation's log lost the URL:\n%s", data)
	}
	if server.Len() == 0 {
		t.Error("nothing reached the server's handler")
	}
}
