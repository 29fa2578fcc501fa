package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/heptio/ark/internal/objectstore"
)

const wellKnownKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// clearAzureEnv leaves only what each test sets.
func clearAzureEnv(t *testing.T) {
	for _, v := range []string{EnvAccount, EnvKey, EnvConnectionString, EnvEndpoint,
		"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
		"AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME"} {
		t.Setenv(v, "")
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestNewRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		cfg  map[string]string
		want []string
	}{
		{name: "no account", want: []string{"AZURE_STORAGE_ACCOUNT_ID is not set", "cloud-credentials", "environment variables"}},
		{name: "unknown key", cfg: map[string]string{"resourceGroup": "x"}, want: []string{`unknown config key "resourceGroup"`, "storageEndpoint"}},
		{name: "endpoint without scheme", cfg: map[string]string{"storageEndpoint": "127.0.0.1:10000/devstoreaccount1"}, want: []string{"not a URL"}},
		{name: "key not base64", env: map[string]string{EnvAccount: "arkbackups", EnvKey: "not base64!"}, want: []string{"AZURE_STORAGE_KEY is not a valid storage account key"}},
		{
			name: "connection string and endpoint",
			env:  map[string]string{EnvConnectionString: "AccountName=a;AccountKey=" + wellKnownKey + ";BlobEndpoint=http://127.0.0.1:1/a;"},
			cfg:  map[string]string{"storageEndpoint": "http://127.0.0.1:2/a/"},
			want: []string{"BlobEndpoint="},
		},
		{name: "bad connection string", env: map[string]string{EnvConnectionString: "UseDevelopmentStorage=true"}, want: []string{"not a valid connection string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearAzureEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := New(tc.cfg)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("New = %v, want an error containing %q", err, w)
				}
			}
		})
	}
}

// TestTokenFailureExplainsTheSecret runs the Entra ID path (account without a
// key) with a service principal whose authority cannot be reached: the user
// must read the troubleshooting doc's "Failed to refresh the Token" and the fix.
func TestTokenFailureExplainsTheSecret(t *testing.T) {
	clearAzureEnv(t)
	t.Setenv(EnvAccount, "arkbackups")
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential") // no IMDS or az CLI probing
	t.Setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000")
	t.Setenv("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
	t.Setenv("AZURE_CLIENT_SECRET", "wrong")
	t.Setenv("AZURE_AUTHORITY_HOST", "https://"+closedPort(t)+"/")

	s, err := New(map[string]string{"storageEndpoint": "http://" + closedPort(t) + "/arkbackups/"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListObjects(context.Background(), "ark", "")
	if !errors.Is(err, objectstore.ErrAccessDenied) {
		t.Errorf("ListObjects = %v, want ErrAccessDenied", err)
	}
	t.Logf("user sees: %v", err)
	for _, want := range []string{"Failed to refresh the Token", "cloud-credentials", "AZURE_STORAGE_ACCOUNT_ID", "AZURE_CLIENT_SECRET", "environment variables"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ListObjects error %v does not contain %q", err, want)
		}
	}
}

func TestMapError(t *testing.T) {
	s := &Store{account: "arkbackups"}
	resp := func(status int, code string) error {
		return fmt.Errorf("GET: %w", &azcore.ResponseError{StatusCode: status, ErrorCode: code})
	}
	for _, tc := range []struct {
		err      error
		wantIs   error
		wantText []string
	}{
		{resp(404, "ContainerNotFound"), objectstore.ErrBucketNotFound, []string{`"ark"`, "az storage container create --name ark --account-name arkbackups", "backupStorageProvider.bucket"}},
		{resp(404, "BlobNotFound"), objectstore.ErrNotFound, []string{"azure://arkbackups/ark/b1/x"}},
		{resp(403, "AuthenticationFailed"), objectstore.ErrAccessDenied, []string{"cloud-credentials", "AZURE_STORAGE_KEY", "environment variables"}},
		{resp(403, "AuthorizationPermissionMismatch"), objectstore.ErrAccessDenied, nil},
		{resp(401, ""), objectstore.ErrAccessDenied, []string{"HTTP 401"}},
	} {
		err := s.mapError("get", "ark", "b1/x", tc.err)
		if !errors.Is(err, tc.wantIs) {
			t.Errorf("mapError(%v) = %v, does not wrap %v", tc.err, err, tc.wantIs)
		}
		for _, w := range tc.wantText {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("mapError(%v) = %q, does not contain %q", tc.err, err, w)
			}
		}
	}
	if err := s.mapError("get", "ark", "k", nil); err != nil {
		t.Errorf("mapError(nil) = %v", err)
	}
}

func TestUnreachableEndpointFailsWithItsName(t *testing.T) {
	clearAzureEnv(t)
	t.Setenv(EnvAccount, "devstoreaccount1")
	t.Setenv(EnvKey, wellKnownKey)
	host := closedPort(t)
	s, err := New(map[string]string{"storageEndpoint": "http://" + host + "/devstoreaccount1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListObjects(context.Background(), "ark", "")
	if !errors.Is(err, objectstore.ErrUnreachable) || !strings.Contains(err.Error(), host) {
		t.Errorf("ListObjects on a closed port = %v, want ErrUnreachable naming %s", err, host)
	}

	// AZURE_STORAGE_ENDPOINT does the same when the config has no endpoint.
	t.Setenv(EnvEndpoint, "http://"+host+"/devstoreaccount1/")
	s, err = New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s.ListObjects(context.Background(), "ark", ""); !errors.Is(err, objectstore.ErrUnreachable) || !strings.Contains(err.Error(), host) {
		t.Errorf("with %s set, ListObjects = %v, want ErrUnreachable naming %s", EnvEndpoint, err, host)
	}
}
