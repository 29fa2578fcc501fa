// Package restorefiles keeps a restore's log and results in the cluster, in
// a ConfigMap owned by the Restore, for restores whose backup location is
// read-only for Ark (it holds another tool's backups): the server writes it,
// and `ark restore logs` and `ark restore describe` read it. A ConfigMap
// holds at most 1 MiB, so what does not fit is cut: the results keep the
// first messages of each list, the log its end, each saying what was left
// out.
package restorefiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Budgets of the ConfigMap's binaryData: the API server refuses a
// ConfigMap over 1 MiB, and base64 in the request makes it a third larger.
const (
	maxTotal   = 960 << 10
	maxResults = 256 << 10
)

// GenerateName is the prefix of a restore's ConfigMap name, to which the
// API server adds a random suffix: a restore deleted and made again under
// the same name gets a ConfigMap of its own while the old one waits for the
// garbage collector, and the server, which may create but not update
// objects outside its own kinds (see docs/rbac.md), never has to replace
// one.
func GenerateName(restore string) string {
	const prefix = "ark-restore-files-"
	if len(restore) <= 200 {
		return prefix + restore + "-"
	}
	sum := sha256.Sum256([]byte(restore))
	return prefix + restore[:160] + "-" + hex.EncodeToString(sum[:8]) + "-"
}

// Keep writes the restore's gzipped log and its results into a new
// ConfigMap owned by rs (deleted with it), and returns its name. gzippedLog
// may be nil (no log).
func Keep(ctx context.Context, c client.Client, rs *arkv1.Restore, gzippedLog io.Reader, warnings, errs *arkv1.RestoreResult) (string, error) {
	data := map[string][]byte{}
	budget := maxTotal
	if warnings != nil && errs != nil {
		results, err := fitResults(*warnings, *errs, maxResults)
		if err != nil {
			return "", err
		}
		data[arkv1.RestoreFilesResultsKey] = results
		budget -= len(results)
	}
	if gzippedLog != nil {
		log, err := fitLog(gzippedLog, budget)
		if err != nil {
			return "", err
		}
		data[arkv1.RestoreFilesLogKey] = log
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: rs.Namespace, GenerateName: GenerateName(rs.Name),
		Annotations: map[string]string{"ark.heptio.com/restore-name": rs.Name},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Restore",
			Name: rs.Name, UID: rs.UID}},
	}, BinaryData: data}
	if err := c.Create(ctx, cm); err != nil {
		return "", fmt.Errorf("keeping the restore's log and results in a ConfigMap of namespace %s: %w", cm.Namespace, err)
	}
	return cm.Name, nil
}

// Open returns the gzipped file key (arkv1.RestoreFilesLogKey or
// RestoreFilesResultsKey) of a restore whose files are in the cluster.
func Open(ctx context.Context, c client.Reader, rs *arkv1.Restore, key string) (io.ReadCloser, error) {
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: rs.Status.FilesConfigMap}, &cm); err != nil {
		return nil, fmt.Errorf("restore %q keeps its log and results in ConfigMap %s/%s: %w", rs.Name, rs.Namespace, rs.Status.FilesConfigMap, err)
	}
	data, ok := cm.BinaryData[key]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s of restore %q has no %s: the restore did not write it", rs.Namespace, cm.Name, rs.Name, key)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
