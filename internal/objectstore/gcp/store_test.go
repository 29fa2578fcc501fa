package gcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/heptio/ark/internal/objectstore"
)

func TestParseEmulatorHost(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:4443":               "http://127.0.0.1:4443",
		"http://127.0.0.1:4443":        "http://127.0.0.1:4443",
		"https://gcs.local:8443/path/": "https://gcs.local:8443",
	} {
		u, err := parseEmulatorHost(in)
		if err != nil || u.String() != want {
			t.Errorf("parseEmulatorHost(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	if _, err := parseEmulatorHost("http://"); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("parseEmulatorHost(http://) = %v, want an error", err)
	}
}

func TestNewRejectsUnknownConfig(t *testing.T) {
	_, err := New(map[string]string{"project": "p"})
	if err == nil || !strings.Contains(err.Error(), `unknown config key "project"`) {
		t.Errorf("New with an unknown key = %v", err)
	}
}

func writeKey(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cloud")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCredentials(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "credentials", "cloud")
	_, _, err := loadCredentials(missing)
	if !errors.Is(err, objectstore.ErrAccessDenied) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v wraps neither ErrAccessDenied nor ErrNotExist", err)
	}
	for _, want := range []string{"open " + missing + ": no such file or directory", "cloud-credentials",
		"single key cloud", "/credentials", "GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing file: error %v does not contain %q", err, want)
		}
	}

	for name, tc := range map[string]struct{ content, want string }{
		"not json":     {"[default]\naws_access_key_id=x", "not a JSON key file"},
		"wrong type":   {`{"type":"something_else"}`, `has type "something_else"`},
		"no key":       {`{"type":"service_account","client_email":"a@b"}`, "lacks client_email or private_key"},
		"empty object": {`{}`, `has type ""`},
	} {
		_, _, err := loadCredentials(writeKey(t, tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, objectstore.ErrAccessDenied) {
			t.Errorf("%s: error %v, want ErrAccessDenied containing %q", name, err, tc.want)
		}
	}

	key, opt, err := loadCredentials(writeKey(t, `{"type":"service_account","client_email":"ark@p.iam.gserviceaccount.com","private_key":"PEM"}`))
	if err != nil || opt == nil || key.ClientEmail != "ark@p.iam.gserviceaccount.com" || key.PrivateKey != "PEM" {
		t.Errorf("service account key: %+v, %v", key, err)
	}
	// A user's gcloud login works for API calls; signing then goes through IAM.
	key, opt, err = loadCredentials(writeKey(t, `{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`))
	if err != nil || opt == nil || key.PrivateKey != "" {
		t.Errorf("authorized_user: %+v, %v", key, err)
	}
}

func TestMapError(t *testing.T) {
	t.Setenv(EnvCredentials, "")
	s, err := New(map[string]string{ConfigEmulatorHost: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	denied := s.mapError(ctx, "put", "ark", "b1/x", fmt.Errorf("googleapi: %w", &googleapi.Error{Code: 403, Message: "forbidden"}))
	if !errors.Is(denied, objectstore.ErrAccessDenied) || !strings.Contains(denied.Error(), "roles/storage") {
		t.Errorf("403 mapped to %v", denied)
	}
	if err := s.mapError(ctx, "get", "b", "k", context.Canceled); !errors.Is(err, context.Canceled) || errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("cancellation mapped to %v", err)
	}
}

func TestUnreachableEmulatorFailsWithItsName(t *testing.T) {
	t.Setenv(EnvCredentials, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	s, err := New(map[string]string{ConfigEmulatorHost: host})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListObjects(context.Background(), "ark", "")
	if !errors.Is(err, objectstore.ErrUnreachable) || !strings.Contains(err.Error(), host) {
		t.Errorf("ListObjects on a closed port = %v, want ErrUnreachable naming %s", err, host)
	}

	// The standard variable reaches the same place when the config is empty.
	t.Setenv(EnvEmulatorHost, host)
	s, err = New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s.ListObjects(context.Background(), "ark", ""); !errors.Is(err, objectstore.ErrUnreachable) || !strings.Contains(err.Error(), host) {
		t.Errorf("with %s=%s, ListObjects = %v, want ErrUnreachable naming it", EnvEmulatorHost, host, err)
	}
}
