package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// VerifyingReader passes a compressed archive through while computing its
// SHA-256 and size, so the copy read from object storage can be checked
// against what the Backup recorded when it was written (Summary).
type VerifyingReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	eof bool
}

// NewVerifyingReader wraps r.
func NewVerifyingReader(r io.Reader) *VerifyingReader {
	return &VerifyingReader{r: r, h: sha256.New()}
}

func (v *VerifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		v.eof = true
	}
	return n, err
}

// SHA256 is the lowercase hex digest of the bytes read so far.
func (v *VerifyingReader) SHA256() string { return hex.EncodeToString(v.h.Sum(nil)) }

// Size is the number of bytes read so far.
func (v *VerifyingReader) Size() int64 { return v.n }

// Verify compares what was read with the recorded digest and size. It must be
// called after the stream reached EOF (Reader and Extract read it to the end
// when they succeed).
func (v *VerifyingReader) Verify(expectedSHA string, expectedSize int64) error {
	if !v.eof {
		return fmt.Errorf("archive digest not checked: only %d bytes of the archive were read, not all of it", v.n)
	}
	if expectedSHA == "" {
		return errors.New("archive digest not checked: the backup records no sha256 for its archive (status.archive.sha256 is empty)")
	}
	got := v.SHA256()
	if !strings.EqualFold(expectedSHA, got) {
		return fmt.Errorf("archive digest mismatch: the backup's recorded sha256 is %s, the archive in object storage has %s: the archive was modified or corrupted; do not restore from it", expectedSHA, got)
	}
	if v.n != expectedSize {
		return fmt.Errorf("archive size mismatch: the backup's recorded size is %d bytes, the archive in object storage has %d: the archive was modified or corrupted; do not restore from it", expectedSize, v.n)
	}
	return nil
}
