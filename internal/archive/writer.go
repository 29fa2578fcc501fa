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
	"strings"
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
// An item refused by Add is reported as an *ItemError and writes nothing;
// the Writer stays usable. An error from the destination is sticky: every
// later call returns it.
type Writer struct {
	dst     *hashingWriter
	buf     *bufio.Writer
	gz      *gzip.Writer
	tarOut  *countingWriter // what tw writes into gz: the decompressed size a reader counts
	tw      *tar.Writer
	modTime time.Time

	seen       map[string]struct{}
	records    []indexRecord // the index, in the order items were added
	indexBytes int64         // encoded size of the index entries so far
	scratch    []byte

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
	tarOut := &countingWriter{w: gz}
	aw := &Writer{
		dst:     dst,
		buf:     buf,
		gz:      gz,
		tarOut:  tarOut,
		tw:      tar.NewWriter(tarOut),
		modTime: time.Now().UTC().Truncate(time.Second),
		seen:    make(map[string]struct{}),
	}
	if err := aw.writeEntry(versionEntry, []byte(strconv.Itoa(FormatVersion))); err != nil {
		return nil, err
	}
	return aw, nil
}

// Add writes one object's JSON at item's path. Every name the API server
// accepts can be stored (names are encoded in paths, see names.go). With
// item.Version set, the object goes into that API version's directory (and
// with item.Preferred into "<version>-preferredversion"), as for a backup of
// every served version: the restore then picks the version the target cluster
// serves.
//
// Add refuses with an *ItemError, writing nothing, an item with an empty
// name or an invalid resource, namespace or version, a path already written,
// data that is not a JSON object, and an entry or archive larger than a
// Reader accepts by default (see the Default* limits).
func (w *Writer) Add(item Item, data []byte) error {
	if w.closed {
		return fmt.Errorf("archive: Add(%s) after Close", item)
	}
	if w.err != nil {
		return w.err
	}
	refuse := func(format string, args ...any) error {
		return &ItemError{Item: item, Reason: fmt.Sprintf(format, args...)}
	}
	if err := item.validate(); err != nil {
		return refuse("%v", err)
	}
	p := item.Path()
	if _, dup := w.seen[p]; dup {
		return refuse("it is already in the archive (each object can be backed up once)")
	}
	if int64(len(data)) > DefaultMaxEntrySize {
		return refuse("its JSON is %d bytes, more than the %d a restore accepts", len(data), DefaultMaxEntrySize)
	}
	if len(w.records) >= DefaultMaxEntries {
		return refuse("the archive already has %d items, the most a restore accepts", DefaultMaxEntries)
	}
	if !isJSONObject(data) {
		return refuse("data is not a JSON object")
	}
	if isLongForm(p) && objectName(data) != item.Name {
		// A reader learns a long name from the object itself.
		return refuse("its JSON's metadata.name is not the item's name")
	}
	rec := indexRecord{path: p, sum: sha256.Sum256(data), size: int64(len(data))}
	var err error
	if w.scratch, err = appendIndexEntry(w.scratch[:0], rec); err != nil {
		return refuse("encoding its index entry: %v", err)
	}
	entryIndexBytes := int64(len(w.scratch)) + 2 // and its separator
	if w.tarOut.n+tarEntryBound(p, int64(len(data)))+w.indexReserve(entryIndexBytes) > writerMaxTotalSize {
		return refuse("the archive would decompress to more than %d bytes, the most a restore accepts", writerMaxTotalSize)
	}
	if err := w.writeEntry(p, data); err != nil {
		return err
	}
	w.records = append(w.records, rec)
	w.indexBytes += entryIndexBytes
	w.seen[p] = struct{}{}
	return nil
}

// Has reports whether item was added already.
func (w *Writer) Has(item Item) bool {
	_, ok := w.seen[item.Path()]
	return ok
}

// writerMaxTotalSize is DefaultMaxTotalSize; tests lower it.
var writerMaxTotalSize = DefaultMaxTotalSize

// tarEntryBound bounds what archive/tar writes for one entry: its header, a
// PAX header with the path record when the name needs one, and the content
// padded to 512-byte blocks.
func tarEntryBound(name string, size int64) int64 {
	return 3*512 + roundUpBlock(int64(len(name))+64) + roundUpBlock(size)
}

// indexReserve is what must stay free for metadata/index.json and the end
// of the tar stream once an item with extra index bytes is added.
func (w *Writer) indexReserve(extra int64) int64 {
	return tarEntryBound(indexEntry, w.indexBytes+extra+64) + 2*512
}

func roundUpBlock(n int64) int64 { return (n + 511) &^ 511 }

func isLongForm(path string) bool { return strings.Contains(path, longNameMarker) }

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
	w.records, w.seen, w.scratch = nil, nil, nil
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

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
