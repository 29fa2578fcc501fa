package local

import (
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/heptio/ark/internal/snapshot"
)

// Config keys that bound what a restore writes under volumeRoot. A snapshot
// object can be altered by anyone who can write the bucket, and a volume's
// contents are chosen by the pods that use it: neither may fill the
// server's disk.
const (
	MaxRestoreBytesKey     = "maxRestoreBytes"
	MaxRestoreFileBytesKey = "maxRestoreFileBytes"
)

// Defaults of the restore limits: the local provider is for single-machine
// clusters and demos, whose volumes are far smaller.
const (
	DefaultMaxRestoreBytes     int64 = 32 << 30
	DefaultMaxRestoreFileBytes int64 = 8 << 30
)

// restoreLimits bound one restore.
type restoreLimits struct {
	// total bounds the unpacked archive: file contents plus the tar
	// headers, so that neither big files nor countless entries nor huge
	// PAX headers get past it.
	total int64
	// file bounds one file's size.
	file int64
}

func parseRestoreLimits(cfg map[string]string) (restoreLimits, error) {
	l := restoreLimits{total: DefaultMaxRestoreBytes, file: DefaultMaxRestoreFileBytes}
	for key, dst := range map[string]*int64{MaxRestoreBytesKey: &l.total, MaxRestoreFileBytesKey: &l.file} {
		raw, ok := cfg[key]
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(raw)
		if err != nil || q.Sign() <= 0 {
			return l, fmt.Errorf("%w: %s %q is not a positive size: write bytes, or a quantity such as 500Mi or 20Gi",
				snapshot.ErrInvalidConfig, key, raw)
		}
		v, ok := q.AsInt64()
		if !ok {
			return l, fmt.Errorf("%w: %s %q is too large", snapshot.ErrInvalidConfig, key, raw)
		}
		*dst = v
	}
	return l, nil
}

// boundedReader fails once more than limit bytes were read.
type boundedReader struct {
	r     io.Reader
	left  int64
	limit int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Exactly limit bytes is fine: only a byte beyond it fails.
		var probe [1]byte
		if n, err := b.r.Read(probe[:]); n == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("the snapshot unpacks to more than %s (%s): raise persistentVolumeProvider.config.%s if the volume really is that large",
			formatBytes(b.limit), MaxRestoreBytesKey, MaxRestoreBytesKey)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// formatBytes writes n as a Kubernetes quantity (32Gi), the form the limits
// are configured in.
func formatBytes(n int64) string {
	return resource.NewQuantity(n, resource.BinarySI).String()
}
