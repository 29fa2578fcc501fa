// Package gcp is Ark's object store on Google Cloud Storage, built on
// cloud.google.com/go/storage.
package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/redact"
)

const (
	// ConfigEmulatorHost points the store at a GCS emulator such as
	// fake-gcs-server ("127.0.0.1:4443" or "http://127.0.0.1:4443"), like
	// the STORAGE_EMULATOR_HOST environment variable, which it overrides.
	// Requests to an emulator are not authenticated.
	ConfigEmulatorHost = "storageEmulatorHost"
	// EnvEmulatorHost is the Google SDKs' standard emulator variable.
	EnvEmulatorHost = "STORAGE_EMULATOR_HOST"
	// EnvCredentials names the key file; Ark mounts it at /credentials/cloud.
	EnvCredentials = "GOOGLE_APPLICATION_CREDENTIALS"

	// One chunk is buffered per upload: memory per upload stays at 16 MiB
	// whatever the object size.
	uploadChunkSize    = 16 << 20
	chunkRetryDeadline = 15 * time.Second
	retryMaxAttempts   = 3
	writeRetryBudget   = 5
	// GCS's own default page size, sent explicitly so that emulators
	// (fake-gcs-server returns everything in one page unless asked) page too.
	listPageSize = 1000
)

// credentialsFix is the troubleshooting doc's checklist for
// "open credentials/cloud: no such file or directory".
const credentialsFix = "fix: create the secret cloud-credentials in the Ark server's namespace (heptio-ark by default) " +
	"with a single key cloud whose value is the service account key file " +
	"(kubectl create secret generic cloud-credentials --namespace heptio-ark --from-file cloud=credentials-ark), " +
	"define it as a volume of the Ark deployment, mount it into the Ark server pod at /credentials, and set " +
	"GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud"

// Store implements objectstore.ObjectStore on GCS.
type Store struct {
	client *storage.Client
	// signing identity; empty fields make the library find one itself
	// (e.g. IAM signBlob under workload identity).
	accessID   string
	privateKey []byte
	// emulator, when set, is the host:port signed URLs point at, over http.
	emulator       string
	emulatorSecure bool
}

var _ objectstore.ObjectStore = (*Store)(nil)

// New builds a Store. Credentials come from the key file named by
// GOOGLE_APPLICATION_CREDENTIALS, else from Application Default Credentials
// (the metadata server under GKE workload identity).
// Keys are the config keys of the gcp object store.
var Keys = providerconfig.Keys{Known: []string{ConfigEmulatorHost}, Hint: ConfigEmulatorHost + " is for emulators"}

func New(cfg map[string]string) (*Store, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("gcp object store: %w in backupStorageProvider.config", err)
	}
	s := &Store{}
	var opts []option.ClientOption

	emulator := cfg[ConfigEmulatorHost]
	if emulator == "" {
		emulator = os.Getenv(EnvEmulatorHost)
	}
	if emulator != "" {
		u, err := parseEmulatorHost(emulator)
		if err != nil {
			return nil, err
		}
		s.emulator, s.emulatorSecure = u.Host, u.Scheme == "https"
		// JSON reads: the XML read path of fake-gcs-server works only when
		// the Host header matches its -public-host flag.
		opts = append(opts, option.WithEndpoint(u.String()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	}

	if path := os.Getenv(EnvCredentials); path != "" {
		key, credOpt, err := loadCredentials(path)
		if err != nil {
			return nil, err
		}
		s.accessID, s.privateKey = key.ClientEmail, []byte(key.PrivateKey)
		if emulator == "" {
			opts = append(opts, credOpt)
		}
	}

	client, err := storage.NewClient(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp object store: cannot create the storage client: %w; %s", err, credentialsFix)
	}
	// The library retries transient errors until the context ends by
	// default, which turns a dead endpoint into a hang; a few attempts
	// with a short backoff ride out a blip and then fail. Writes are
	// retried too: Ark always overwrites whole objects.
	client.SetRetry(
		storage.WithMaxAttempts(retryMaxAttempts),
		storage.WithBackoff(gax.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}),
		storage.WithPolicy(storage.RetryAlways),
	)
	s.client = client
	return s, nil
}

func parseEmulatorHost(h string) (*url.URL, error) {
	raw := h
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("gcp object store: emulator host %q (config %s or $%s) is not host:port or a URL, for example 127.0.0.1:4443", h, ConfigEmulatorHost, EnvEmulatorHost)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// serviceAccountKey holds what signing a URL needs from the key file.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// loadCredentials reads the key file itself so that a missing or broken
// secret fails at startup with the real open error and the fix, instead of
// as an anonymous 401 on the first backup.
func loadCredentials(path string) (serviceAccountKey, option.ClientOption, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return serviceAccountKey{}, nil, &credentialsError{cause: err,
			msg: fmt.Sprintf("gcp object store: cannot read the credentials file named by %s: %v; %s", EnvCredentials, err, credentialsFix)}
	}
	var key serviceAccountKey
	if err := json.Unmarshal(data, &key); err != nil {
		return serviceAccountKey{}, nil, &credentialsError{msg: fmt.Sprintf("gcp object store: credentials file %s is not a JSON key file (%v): put the file from `gcloud iam service-accounts keys create credentials-ark` in the secret; %s", path, err, credentialsFix)}
	}
	switch option.CredentialsType(key.Type) {
	case option.ServiceAccount:
		if key.ClientEmail == "" || key.PrivateKey == "" {
			return serviceAccountKey{}, nil, &credentialsError{msg: fmt.Sprintf("gcp object store: service account key %s lacks client_email or private_key: create a new key with `gcloud iam service-accounts keys create credentials-ark`; %s", path, credentialsFix)}
		}
	case option.AuthorizedUser, option.ImpersonatedServiceAccount, option.ExternalAccount:
		// Valid for API calls; signing URLs then goes through IAM signBlob.
		key.ClientEmail, key.PrivateKey = "", ""
	default:
		return serviceAccountKey{}, nil, &credentialsError{msg: fmt.Sprintf("gcp object store: credentials file %s has type %q, want \"service_account\": put the file from `gcloud iam service-accounts keys create credentials-ark` in the secret; %s", path, key.Type, credentialsFix)}
	}
	return key, option.WithAuthCredentialsJSON(option.CredentialsType(key.Type), data), nil
}

// credentialsError is a credentials file Ark cannot use: it wraps
// ErrAccessDenied (and the open error, if any) under the user-facing message.
type credentialsError struct {
	msg   string
	cause error
}

func (e *credentialsError) Error() string { return e.msg }

func (e *credentialsError) Unwrap() []error {
	if e.cause == nil {
		return []error{objectstore.ErrAccessDenied}
	}
	return []error{objectstore.ErrAccessDenied, e.cause}
}

// PutObject streams body through a resumable upload. If body fails, the
// upload is cancelled rather than closed, so no truncated object appears.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	uploadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The library caps retries of reads and lists by attempt count, but a
	// write's requests retry until the context ends; each upload gets its
	// own budget of retries instead.
	var retries atomic.Int32
	obj := s.client.Bucket(bucket).Object(key).Retryer(storage.WithErrorFunc(func(err error) bool {
		return storage.ShouldRetry(err) && retries.Add(1) <= writeRetryBudget
	}))
	w := obj.NewWriter(uploadCtx)
	w.ChunkSize = uploadChunkSize
	w.ChunkRetryDeadline = chunkRetryDeadline
	if _, err := io.Copy(w, body); err != nil {
		cancel()
		_ = w.Close()
		return s.mapError(ctx, "put", bucket, key, err)
	}
	if err := w.Close(); err != nil {
		return s.mapError(ctx, "put", bucket, key, err)
	}
	return nil
}

// GetObject opens key for reading.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	r, err := s.client.Bucket(bucket).Object(key).NewReader(ctx)
	if err != nil {
		return nil, s.mapError(ctx, "get", bucket, key, err)
	}
	return r, nil
}

// ListCommonPrefixes returns the prefixes GCS groups keys into under prefix.
func (s *Store) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	it := s.client.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix, Delimiter: delimiter})
	it.PageInfo().MaxSize = listPageSize
	var out []string
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, s.mapError(ctx, "list", bucket, prefix, err)
		}
		if attrs.Prefix != "" {
			out = append(out, attrs.Prefix)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListObjects returns every key under prefix; the iterator pages.
func (s *Store) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, err
	}
	it := s.client.Bucket(bucket).Objects(ctx, q)
	it.PageInfo().MaxSize = listPageSize
	var out []string
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, s.mapError(ctx, "list", bucket, prefix, err)
		}
		out = append(out, attrs.Name)
	}
	return out, nil
}

// DeleteObject removes key; a missing key is not an error.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	err := s.client.Bucket(bucket).Object(key).Delete(ctx)
	if err == nil {
		return nil
	}
	err = s.mapError(ctx, "delete", bucket, key, err)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil
	}
	return err
}

// ObjectRetention reads key's retention: the bucket's retention policy
// (RetentionExpirationTime), its own retention, and its holds.
func (s *Store) ObjectRetention(ctx context.Context, bucket, key string) (objectstore.Retention, error) {
	attrs, err := s.client.Bucket(bucket).Object(key).Attrs(ctx)
	if err != nil {
		return objectstore.Retention{}, s.mapError(ctx, "read the retention of", bucket, key, err)
	}
	r := objectstore.Retention{Hold: attrs.EventBasedHold || attrs.TemporaryHold}
	if !attrs.RetentionExpirationTime.IsZero() {
		r.Until, r.Mode = attrs.RetentionExpirationTime, "bucket retention policy"
	}
	if o := attrs.Retention; o != nil && o.RetainUntil.After(r.Until) {
		r.Until, r.Mode = o.RetainUntil, "object retention "+o.Mode
	}
	return r, nil
}

// CreateSignedURL signs a V4 GET URL with the service account key.
func (s *Store) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	opts := &storage.SignedURLOptions{
		Scheme:         storage.SigningSchemeV4,
		Method:         "GET",
		Expires:        time.Now().Add(ttl),
		GoogleAccessID: s.accessID,
		PrivateKey:     s.privateKey,
	}
	if s.emulator != "" {
		opts.Hostname, opts.Insecure, opts.Style = s.emulator, !s.emulatorSecure, storage.PathStyle()
	}
	u, err := s.client.Bucket(bucket).SignedURL(key, opts)
	if err != nil {
		return "", fmt.Errorf("sign gs://%s/%s: %w; signing needs a service account key in %s (or, without one, the iam.serviceAccounts.signBlob permission); %s",
			bucket, key, redact.Error(err), EnvCredentials, credentialsFix)
	}
	return u, nil
}
