// Package download fetches a backup's or restore's file through a
// DownloadRequest: the server answers with a signed URL (or, for the
// filesystem store, a file:// URL on the same machine), which this reads.
package download

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/redact"
)

// ErrNotFound means the server made a URL but the file is not in object
// storage.
var ErrNotFound = errors.New("the file is not in object storage")

// Open asks the server for a URL of the target and opens it. The caller
// closes the reader.
func Open(ctx context.Context, c client.Client, namespace string, kind arkv1.DownloadTargetKind, name string, timeout time.Duration) (io.ReadCloser, error) {
	dr := &arkv1.DownloadRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: arkv1.GenerateNameBase(name)},
		Spec:       arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: kind, Name: name}},
	}
	if err := c.Create(ctx, dr); err != nil {
		return nil, fmt.Errorf("creating a download request: %w", err)
	}
	defer func() { _ = c.Delete(context.Background(), dr) }()
	deadline := time.Now().Add(timeout)
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(dr), dr); err != nil {
			return nil, err
		}
		switch dr.Status.Phase {
		case arkv1.DownloadRequestPhaseProcessed:
			return fetch(ctx, dr.Status.DownloadURL)
		case arkv1.DownloadRequestPhaseFailed:
			return nil, fmt.Errorf("the server could not make a download URL: %s", redact.String(dr.Status.FailureReason))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the Ark server did not answer the download request within %s: check that it runs ('kubectl -n %s get pods', 'kubectl -n %s logs deployment/ark')", timeout, namespace, namespace)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// fetch opens the signed URL. Its signature is a credential: no message
// quotes it (net/http's errors quote the whole URL), only its scheme, host
// and path.
func fetch(ctx context.Context, raw string) (io.ReadCloser, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the server returned an invalid download URL (%s): %w", redact.URL(raw), redact.Error(err))
	}
	if u.Scheme == "file" {
		f, err := os.Open(u.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w (the filesystem store's files can only be read on the machine that runs the Ark server, by the user it runs as)", err)
		}
		return f, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", redact.URL(raw), redact.Error(err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading: %w", redact.Error(err))
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, fmt.Errorf("%w (HTTP 404): the backup or restore may not have written it, or it was deleted", ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("downloading %s: HTTP %s", redact.URL(raw), resp.Status)
	}
	return resp.Body, nil
}

// Gunzip copies a gzipped stream (a log, results), uncompressed, to w.
func Gunzip(w io.Writer, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("the file is not gzip data: %w", err)
	}
	defer zr.Close()
	_, err = io.Copy(w, zr)
	return err
}
