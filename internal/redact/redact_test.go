package redact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Real-looking signed URLs and credentials, as the providers make them.
const (
	s3Presigned = "https://ark-backups.s3.us-east-1.amazonaws.com/nginx-backup/nginx-backup.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20180102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20180102T030405Z" +
		"&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	gcsSigned = "https://storage.googleapis.com/ark-backups/b/b.tar.gz?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=ark%40p.iam.gserviceaccount.com" +
		"&X-Goog-Signature=5a1e2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
	azureSAS = "https://arkstorage.blob.core.windows.net/ark/b/b.tar.gz?sv=2021-08-06&se=2018-01-02T03%3A14%3A05Z&sr=b&sp=r" +
		"&sig=Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MGFiY2RlZg%3D%3D"
	withPassword = "http://minio:hunter2hunter2@minio.heptio-ark.svc:9000/ark"
)

var secrets = []string{
	"fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024", "AKIAIOSFODNN7EXAMPLE",
	"5a1e2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
	"Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MGFiY2RlZg", "hunter2hunter2",
}

func assertClean(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds the secret %q: %s", what, s, text)
		}
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		s3Presigned:                    "https://ark-backups.s3.us-east-1.amazonaws.com/nginx-backup/nginx-backup.tar.gz?REDACTED",
		gcsSigned:                      "https://storage.googleapis.com/ark-backups/b/b.tar.gz?REDACTED",
		azureSAS:                       "https://arkstorage.blob.core.windows.net/ark/b/b.tar.gz?REDACTED",
		withPassword:                   "http://REDACTED@minio.heptio-ark.svc:9000/ark",
		"https://s3.amazonaws.com/b/k": "https://s3.amazonaws.com/b/k",
		"file:///var/lib/ark/b/k.gz":   "file:///var/lib/ark/b/k.gz",
		// Not parseable (a bad escape): cut by hand.
		"https://u:p4ss@h/%zz?sig=abc": "https://REDACTED@h/%zz?REDACTED",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStringFindsURLsInMessages(t *testing.T) {
	msg := fmt.Sprintf(`downloading: Get %q: dial tcp 10.0.0.1:443: i/o timeout; also %s and <%s>, then '%s' and sig=abcdef0123&X-Amz-Signature=0011 alone, AccountKey=c2VjcmV0a2V5;`,
		s3Presigned, gcsSigned, azureSAS, withPassword)
	got := String(msg)
	assertClean(t, "String", got)
	for _, want := range []string{"downloading: Get \"https://ark-backups.s3.us-east-1.amazonaws.com/nginx-backup/nginx-backup.tar.gz?REDACTED\": dial tcp 10.0.0.1:443: i/o timeout",
		"sig=REDACTED&X-Amz-Signature=REDACTED", "AccountKey=REDACTED;"} {
		if !strings.Contains(got, want) {
			t.Errorf("String = %s\nlacks %s", got, want)
		}
	}
	creds := "[default]\naws_access_key_id=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n" +
		"AZURE_CLIENT_SECRET=c1ient-s3cret-value AZURE_STORAGE_KEY=c3RvcmFnZWtleQ== {\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEv\\n\"}"
	got = String(creds)
	for _, secret := range []string{"wJalrXUtnFEMI", "c1ient-s3cret-value", "c3RvcmFnZWtleQ", "MIIEv"} {
		if strings.Contains(got, secret) {
			t.Errorf("String(credentials) holds %q: %s", secret, got)
		}
	}
	if !strings.Contains(got, "aws_secret_access_key = REDACTED") || !strings.Contains(got, `"private_key": "REDACTED"`) {
		t.Errorf("String(credentials) = %s", got)
	}
	if plain := "backup nginx-backup failed: 3 errors"; String(plain) != plain {
		t.Errorf("a message without URLs changed: %q", String(plain))
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	_, httpErr := http.Get(s3Presigned[:strings.Index(s3Presigned, "//")+2] + "127.0.0.1:1/" + s3Presigned[strings.Index(s3Presigned, ".com/")+5:])
	if httpErr == nil {
		t.Skip("something listens on 127.0.0.1:1")
	}
	assertClean(t, "redacted net/http error", Error(httpErr).Error())
	var urlErr *url.Error
	if !errors.As(Error(httpErr), &urlErr) {
		t.Error("errors.As no longer finds the *url.Error")
	}
	wrapped := fmt.Errorf("get %s: %w", azureSAS, fs.ErrPermission)
	red := Error(wrapped)
	assertClean(t, "redacted error", red.Error())
	if !errors.Is(red, fs.ErrPermission) {
		t.Error("errors.Is no longer finds the sentinel")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	plain := errors.New("plain")
	if Error(plain) != plain {
		t.Error("an error with nothing to redact was wrapped")
	}
}

func TestHandler(t *testing.T) {
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(Handler(h(&buf))).With("endpoint", withPassword)
		log.Info("signed "+s3Presigned, "url", gcsSigned, "err", fmt.Errorf("wrapped: %w", errors.New(azureSAS)),
			slog.Group("g", "u", azureSAS), "stringer", stringer(s3Presigned), "n", 3, "list", []string{azureSAS})
		log.WithGroup("sub").Error("x", "u", s3Presigned)
		out := buf.String()
		assertClean(t, "log", out)
		if !strings.Contains(out, "REDACTED") || !strings.Contains(out, "3") {
			t.Errorf("log lost more than the secrets: %s", out)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestHandlerKeepsOtherValues(t *testing.T) {
	var buf bytes.Buffer
	slog.New(Handler(slog.NewJSONHandler(&buf, nil))).Log(context.Background(), slog.LevelInfo, "m", "list", []string{"a", "b"}, "n", 3)
	if !strings.Contains(buf.String(), `"list":["a","b"]`) || !strings.Contains(buf.String(), `"n":3`) {
		t.Errorf("values without secrets changed form: %s", buf.String())
	}
}
