package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"
)

// Summary describes a finished archive: SHA256 (lowercase hex) and Size are of
// the whole compressed stream, exactly as it was written to the destination;
// they are what the Backup records in status.archive.
type Summary struct {
	SHA256 string
	Size   int64
	Items  int
}

// Writer streams a backup archive to an io.Writer as items arrive. It holds no
// item after Add returns; what it keeps is the index: one path, digest and
// size per item (about 150 bytes plus the path), also used to refuse
// duplicates.
//
// An error from the destination is sticky: every later call returns it. An
// item refused by Add (bad name, duplicate, not JSON, too large) writes nothing
// and leaves the Writer usable.
type Writer struct {
	dst     *hashingWriter
	buf     *bufio.Writer
	gz      *gzip.Writer
	tw      *tar.Writer
	modTime time.Time

	seen    map[string]struct{}
	records []indexRecord // the index, in the order items were added
	total   int64         // uncompressed bytes of all entries written, as Reader counts them

	err    error
	closed bool
}

// NewWriter starts an archive on w and writes metadata/version. Close finishes
// the archive but does not close w.
func NewWriter(w io.Writer) (*Writer, error) {
	if w == nil {
		return nil, errors.New("archive: NewWriter needs a destination writer, got nil")
	}
	dst := &hashingWriter{w: w, h: sha256.New()}
	// flate emits a few hundred bytes per write; batching them matters when
	// the destination is a pipe into an uploader.
	buf := bufio.NewWriterSize(dst, 64<<10)
	gz := gzip.NewWriter(buf)
	aw := &Writer{
		dst:     dst,
		buf:     buf,
		gz:      gz,
		tw:      tar.NewWriter(gz),
		modTime: time.Now().UTC().Truncate(time.Second),
		seen:    make(map[string]struct{}),
	}
	if err := aw.writeEntry(versionEntry, []byte(strconv.Itoa(FormatVersion))); err != nil {
		return nil, err
	}
	return aw, nil
}

// Add writes one object's JSON. It refuses, without writing anything, an item
// whose names would not be a safe path, a path already written, data that is
// not a JSON object, and an entry or archive larger than a Reader accepts by
// default (see the Default* limits).
func (w *Writer) Add(item Item, data []byte) error {
	if w.closed {
		return fmt.Errorf("archive: Add(%q) after Close", item.Path())
	}
	if w.err != nil {
		return w.err
	}
	p := item.Path()
	if err := item.validate(); err != nil {
		return fmt.Errorf("archive: cannot add %q: %w", p, err)
	}
	if _, dup := w.seen[p]; dup {
		return fmt.Errorf("archive: cannot add %q: it is already in the archive (each object can be backed up once)", p)
	}
	if int64(len(data)) > DefaultMaxEntrySize {
		return fmt.Errorf("archive: cannot add %q: its JSON is %d bytes, more than the %d a restore accepts", p, len(data), DefaultMaxEntrySize)
	}
	if len(w.records) >= DefaultMaxEntries {
		return fmt.Errorf("archive: cannot add %q: the archive already has %d items, the most a restore accepts", p, DefaultMaxEntries)
	}
	if w.total+int64(len(data)) > DefaultMaxTotalSize {
		return fmt.Errorf("archive: cannot add %q: the archive would exceed %d uncompressed bytes, the most a restore accepts", p, DefaultMaxTotalSize)
	}
	if !isJSONObject(data) {
		return fmt.Errorf("archive: cannot add %q: data is not a JSON object", p)
	}
	if err := w.writeEntry(p, data); err != nil {
		return err
	}
	w.records = append(w.records, indexRecord{path: p, sum: sha256.Sum256(data), size: int64(len(data))})
	w.seen[p] = struct{}{}
	return nil
}

// indexRecord is one IndexEntry as the Writer keeps it until Close: about half
// the memory of its JSON, which for a large backup is most of what the Writer
// holds.
type indexRecord struct {
	path string // shared with the key of Writer.seen
	sum  [sha256.Size]byte
	size int64
}

// appendIndexEntry appends rec encoded as an IndexEntry JSON object.
func appendIndexEntry(dst []byte, rec indexRecord) ([]byte, error) {
	path, err := json.Marshal(rec.path)
	if err != nil {
		return nil, err
	}
	dst = append(dst, `{"path":`...)
	dst = append(dst, path...)
	dst = append(dst, `,"sha256":"`...)
	dst = hex.AppendEncode(dst, rec.sum[:])
	dst = append(dst, `","size":`...)
	dst = strconv.AppendInt(dst, rec.size, 10)
	return append(dst, '}'), nil
}

// Close writes metadata/index.json and finishes the tar and gzip streams. It
// does not close the destination.
func (w *Writer) Close() (Summary, error) {
	if w.closed {
		return Summary{}, errors.New("archive: Close called twice")
	}
	w.closed = true
	if w.err != nil {
		return Summary{}, w.err
	}
	if err := w.writeIndex(); err != nil {
		return Summary{}, err
	}
	for _, step := range []struct {
		what string
		fn   func() error
	}{{"tar", w.tw.Close}, {"gzip", w.gz.Close}, {"buffered", w.buf.Flush}} {
		if err := step.fn(); err != nil {
			w.err = fmt.Errorf("archive: finishing the %s stream: %w", step.what, err)
			return Summary{}, w.err
		}
	}
	items := len(w.records)
	w.records, w.seen = nil, nil
	return Summary{SHA256: hex.EncodeToString(w.dst.h.Sum(nil)), Size: w.dst.n, Items: items}, nil
}

// writeIndex streams metadata/index.json, one line per item. A tar header
// needs the size first, so the entries are encoded twice rather than held in
// one buffer.
func (w *Writer) writeIndex() error {
	head := []byte(fmt.Sprintf("{\"formatVersion\":%d,\"items\":[\n", FormatVersion))
	sep, tail := []byte(",\n"), []byte("\n]}\n")
	size := int64(len(head) + len(tail))
	var scratch []byte
	for i, rec := range w.records {
		var err error
		if scratch, err = appendIndexEntry(scratch[:0], rec); err != nil {
			return fmt.Errorf("archive: encoding the index entry of %q: %w", rec.path, err)
		}
		size += int64(len(scratch))
		if i > 0 {
			size += int64(len(sep))
		}
	}
	if err := w.writeHeader(indexEntry, size); err != nil {
		return err
	}
	if err := w.writeBody(indexEntry, head); err != nil {
		return err
	}
	for i, rec := range w.records {
		if i > 0 {
			if err := w.writeBody(indexEntry, sep); err != nil {
				return err
			}
		}
		scratch, _ = appendIndexEntry(scratch[:0], rec)
		if err := w.writeBody(indexEntry, scratch); err != nil {
			return err
		}
	}
	return w.writeBody(indexEntry, tail)
}

// writeEntry writes one regular file.
func (w *Writer) writeEntry(name string, data []byte) error {
	if err := w.writeHeader(name, int64(len(data))); err != nil {
		return err
	}
	return w.writeBody(name, data)
}

func (w *Writer) writeHeader(name string, size int64) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     size,
		ModTime:  w.modTime,
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		w.err = fmt.Errorf("archive: writing the header of %s: %w", name, err)
		return w.err
	}
	w.total += size
	return nil
}

func (w *Writer) writeBody(name string, p []byte) error {
	if _, err := w.tw.Write(p); err != nil {
		w.err = fmt.Errorf("archive: writing %s: %w", name, err)
		return w.err
	}
	return nil
}

// isJSONObject is the check Reader applies to every resource entry.
func isJSONObject(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(data)
}

// hashingWriter hashes and counts exactly the bytes the destination accepted.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}
