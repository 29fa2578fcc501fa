package restorefiles

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
)

// fitResults encodes the results as object storage holds them, keeping at
// most the first n messages of each list, n halved until they fit in max.
func fitResults(warnings, errs arkv1.RestoreResult, max int) ([]byte, error) {
	data, err := backupstore.EncodeRestoreResults(warnings, errs)
	for n := 4096; err == nil && len(data) > max && n > 0; n /= 2 {
		data, err = backupstore.EncodeRestoreResults(truncateResult(warnings, n), truncateResult(errs, n))
	}
	if err == nil && len(data) > max {
		return nil, fmt.Errorf("the restore's results do not fit in a ConfigMap even cut to their first messages")
	}
	return data, err
}

func truncateResult(r arkv1.RestoreResult, n int) arkv1.RestoreResult {
	cut := func(msgs []string) []string {
		if len(msgs) <= n {
			return msgs
		}
		return append(append([]string{}, msgs[:n]...), fmt.Sprintf("... and %d more, not kept: the ConfigMap that holds this restore's results is limited to 1 MiB; the restore log has each", len(msgs)-n))
	}
	out := arkv1.RestoreResult{Ark: cut(r.Ark), Cluster: cut(r.Cluster)}
	if r.Namespaces != nil {
		out.Namespaces = map[string][]string{}
		for ns, msgs := range r.Namespaces {
			out.Namespaces[ns] = cut(msgs)
		}
	}
	return out
}

// fitLog returns the gzipped log as it is when it fits in max bytes, else
// the gzip of its end, as much of it as fits, after a line saying how much
// was left out.
func fitLog(gzipped io.Reader, max int) ([]byte, error) {
	// Keep up to max bytes of compressed input as is; anything longer is
	// cut from its uncompressed text.
	head, err := io.ReadAll(io.LimitReader(gzipped, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(head) <= max {
		return head, nil
	}
	zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), gzipped))
	if err != nil {
		return nil, fmt.Errorf("the restore log is not gzip data: %w", err)
	}
	defer zr.Close()
	// Logs compress about tenfold; a tail of up to 16 times the budget is
	// kept, then shortened until its gzip fits.
	tail := &tailBuffer{max: 16 * max}
	total, err := io.Copy(tail, zr)
	if err != nil {
		return nil, fmt.Errorf("reading the restore log: %w", err)
	}
	text := tail.bytes()
	for {
		kept := text
		if i := bytes.IndexByte(kept, '\n'); i >= 0 && int64(len(kept)) < total {
			kept = kept[i+1:] // start at a whole line
		}
		note := fmt.Sprintf("[the first %d of this log's %d bytes are not kept: the ConfigMap that holds this restore's log is limited to 1 MiB]\n", total-int64(len(kept)), total)
		out, err := gzipBytes(append([]byte(note), kept...))
		if err != nil {
			return nil, err
		}
		if len(out) <= max || len(text) == 0 {
			return out, nil
		}
		text = text[len(text)/2:]
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return n, nil
}

func (t *tailBuffer) bytes() []byte {
	if len(t.buf) > t.max {
		return t.buf[len(t.buf)-t.max:]
	}
	return t.buf
}
