package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

const (
	maxVersionEntrySize = 64
	// maxTrailingPadding is how many zero bytes may follow the tar end
	// marker inside the gzip stream (GNU tar pads to 10 KiB records).
	maxTrailingPadding = 1 << 20
	// smallEntrySize is the largest entry read into a buffer sized from its
	// header; larger ones grow with the data actually read, so a header that
	// lies about its size costs no more memory than the bytes behind it.
	smallEntrySize = 1 << 20
)

// Reader reads an archive as a stream and validates every entry before
// returning it. Items returned by Next are individually valid, but the archive
// as a whole (nothing missing, nothing added, nothing changed) is confirmed
// only when Next returns io.EOF: do nothing irreversible before that, or use
// Extract, which returns only a fully verified archive.
type Reader struct {
	lim  Limits
	in   *sourceReader
	src  *bufio.Reader
	gz   *gzip.Reader
	tr   *tar.Reader
	last string // name of the last entry read, for errors about what follows it

	digests    map[string]entryDigest
	total      int64 // uncompressed bytes read, metadata/version included
	indexBound int64 // the largest metadata/index.json the entries read so far can need

	index Index
	done  bool
	err   error
}

type entryDigest struct {
	sum     [sha256.Size]byte
	size    int64
	indexed bool
}

// NewReader starts reading the compressed archive r with the given limits
// (zero fields mean the defaults) and checks metadata/version. When Next has
// returned io.EOF, r has been read to its end, so a VerifyingReader around it
// can be verified.
func NewReader(r io.Reader, lim Limits) (*Reader, error) {
	lim, err := lim.withDefaults()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("archive: NewReader needs a source reader, got nil")
	}
	// gzip reads through a ByteReader without buffering of its own, so after
	// the gzip stream ends src holds exactly what followed it.
	in := &sourceReader{r: r}
	src := bufio.NewReaderSize(in, 64<<10)
	gz, err := gzip.NewReader(src)
	if err != nil {
		switch {
		case in.err != nil:
			return nil, fmt.Errorf("archive: reading the backup archive: %w", in.err)
		case errors.Is(err, io.EOF):
			return nil, invalid("", "the archive is empty")
		case errors.Is(err, gzip.ErrHeader):
			return nil, invalid("", "the archive is not gzip-compressed: expected a .tar.gz written by Ark")
		default:
			return nil, &InvalidArchiveError{Reason: "cannot read the gzip header: the archive is truncated or corrupted", Err: err}
		}
	}
	gz.Multistream(false)
	ar := &Reader{
		lim:        lim,
		in:         in,
		src:        src,
		gz:         gz,
		tr:         tar.NewReader(gz),
		digests:    make(map[string]entryDigest),
		indexBound: indexBytesFixed,
	}
	if err := ar.readVersion(); err != nil {
		return nil, err
	}
	return ar, nil
}

func (r *Reader) readVersion() error {
	hdr, err := r.nextHeader()
	if err != nil {
		return err
	}
	if hdr.Name != versionEntry {
		return invalid(hdr.Name, "the first entry must be %s: this is not an Ark backup archive (format version %d), or it is corrupted", versionEntry, FormatVersion)
	}
	if hdr.Size > maxVersionEntrySize {
		return invalid(versionEntry, "is %d bytes; a format version is at most %d", hdr.Size, maxVersionEntrySize)
	}
	data, err := readEntry(r.tr, hdr.Size)
	if err != nil {
		return r.truncated(versionEntry, err)
	}
	text := strings.TrimSpace(string(data))
	v, err := strconv.Atoi(text)
	if err != nil {
		return invalid(versionEntry, "content %q is not a format version number", text)
	}
	if v != FormatVersion {
		return invalid(versionEntry, "format version %d is not supported: this Ark reads format version %d; use the Ark release that wrote the backup", v, FormatVersion)
	}
	r.total += hdr.Size
	return nil
}

// Next returns the next resource item and its JSON. It returns io.EOF only
// after metadata/index.json was read and matched every entry, and the gzip
// stream ended cleanly with nothing after it. Any other error is an
// *InvalidArchiveError, except a read error of the source itself, which is
// wrapped as is (errors.Is finds it); either is returned again by every later
// call.
func (r *Reader) Next() (Item, []byte, error) {
	if r.err != nil {
		return Item{}, nil, r.err
	}
	if r.done {
		return Item{}, nil, io.EOF
	}
	item, data, err := r.next()
	if err != nil {
		if err == io.EOF {
			r.done = true
		} else {
			r.err = err
		}
		return Item{}, nil, err
	}
	return item, data, nil
}

// Index returns the verified index once Next has returned io.EOF.
func (r *Reader) Index() (Index, error) {
	if !r.done {
		return Index{}, errors.New("archive: Index is known only after Next has returned io.EOF")
	}
	return r.index, nil
}

func (r *Reader) next() (Item, []byte, error) {
	hdr, err := r.nextHeader()
	if err != nil {
		return Item{}, nil, err
	}
	name := hdr.Name
	switch {
	case name == indexEntry:
		if err := r.readIndex(hdr); err != nil {
			return Item{}, nil, err
		}
		if err := r.finish(); err != nil {
			return Item{}, nil, err
		}
		return Item{}, nil, io.EOF
	case name == versionEntry:
		return Item{}, nil, invalid(name, "appears twice")
	case strings.HasPrefix(name, "metadata/"):
		return Item{}, nil, invalid(name, "unknown metadata entry (format version %d has only %s and %s)", FormatVersion, versionEntry, indexEntry)
	}
	item, err := ParsePath(name)
	if err != nil {
		return Item{}, nil, &InvalidArchiveError{Entry: name, Reason: "not part of the backup layout", Err: err}
	}
	if _, dup := r.digests[name]; dup {
		return Item{}, nil, invalid(name, "appears twice")
	}
	if len(r.digests) >= r.lim.MaxEntries {
		return Item{}, nil, invalid(name, "the archive has more than %d items (Limits.MaxEntries)", r.lim.MaxEntries)
	}
	if hdr.Size > r.lim.MaxEntrySize {
		return Item{}, nil, invalid(name, "is %d bytes, more than the %d allowed for one entry (Limits.MaxEntrySize)", hdr.Size, r.lim.MaxEntrySize)
	}
	if r.total+hdr.Size > r.lim.MaxTotalSize {
		return Item{}, nil, invalid(name, "the archive's entries add up to more than %d uncompressed bytes (Limits.MaxTotalSize)", r.lim.MaxTotalSize)
	}
	data, err := readEntry(r.tr, hdr.Size)
	if err != nil {
		return Item{}, nil, r.truncated(name, err)
	}
	if !isJSONObject(data) {
		return Item{}, nil, invalid(name, "content is not a JSON object")
	}
	r.total += hdr.Size
	r.indexBound += indexSizeBound(len(name))
	r.digests[name] = entryDigest{sum: sha256.Sum256(data), size: hdr.Size}
	return item, data, nil
}

// nextHeader returns the next tar header, refusing names that are unsafe as
// paths and anything that is not a regular file.
func (r *Reader) nextHeader() (*tar.Header, error) {
	hdr, err := r.tr.Next()
	if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
		err = nil // refused below, with the reason
	}
	if err == io.EOF {
		if r.last == "" {
			return nil, invalid("", "the archive holds no entries: it is not an Ark backup, or it is truncated")
		}
		return nil, invalid("", "the archive ends after entry %q without %s: it is truncated", r.last, indexEntry)
	}
	if err != nil {
		return nil, r.streamError(err)
	}
	if problem := unsafePathProblem(hdr.Name); problem != "" {
		return nil, invalid(hdr.Name, "unsafe entry name: %s", problem)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, invalid(hdr.Name, "%s; an Ark archive holds only regular files", describeType(hdr))
	}
	r.last = hdr.Name
	return hdr, nil
}

func (r *Reader) streamError(err error) error {
	where := "at its start"
	if r.last != "" {
		where = fmt.Sprintf("after entry %q", r.last)
	}
	var corrupt flate.CorruptInputError
	switch {
	case r.in.err != nil:
		return fmt.Errorf("archive: reading the backup archive %s: %w", where, r.in.err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &InvalidArchiveError{Reason: "the archive is truncated " + where, Err: err}
	case errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt), errors.Is(err, tar.ErrHeader):
		return &InvalidArchiveError{Reason: "the archive is corrupted " + where, Err: err}
	default:
		return &InvalidArchiveError{Reason: "cannot read the archive " + where, Err: err}
	}
}

// truncated reports an entry that ended early: a failing source (a network
// error, worth retrying) is told apart from an archive that is short.
func (r *Reader) truncated(entry string, err error) error {
	if r.in.err != nil {
		return fmt.Errorf("archive: reading entry %q of the backup archive: %w", entry, r.in.err)
	}
	return &InvalidArchiveError{Entry: entry, Reason: "truncated", Err: err}
}

// sourceReader remembers the source's own read error, so that a failing
// download is not reported as a corrupt archive.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func describeType(hdr *tar.Header) string {
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		return fmt.Sprintf("is a symbolic link to %q", hdr.Linkname)
	case tar.TypeLink:
		return fmt.Sprintf("is a hard link to %q", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return "is a device file"
	case tar.TypeDir:
		return "is a directory"
	case tar.TypeFifo:
		return "is a FIFO"
	case tar.TypeXGlobalHeader:
		return "is a PAX global header"
	case tar.TypeGNUSparse:
		return "is a sparse file"
	default:
		return fmt.Sprintf("has unsupported tar type %q", hdr.Typeflag)
	}
}

// readEntry reads exactly size bytes of the current entry.
func readEntry(r io.Reader, size int64) ([]byte, error) {
	lr := io.LimitReader(r, size)
	if size <= smallEntrySize {
		buf := make([]byte, size)
		n, err := io.ReadFull(lr, buf)
		if err != nil {
			return nil, fmt.Errorf("its header promises %d bytes but only %d follow: %w", size, n, err)
		}
		return buf, nil
	}
	var buf bytes.Buffer
	buf.Grow(smallEntrySize)
	n, err := buf.ReadFrom(lr)
	if err != nil {
		return nil, fmt.Errorf("its header promises %d bytes but only %d follow: %w", size, n, err)
	}
	if n != size {
		return nil, fmt.Errorf("its header promises %d bytes but only %d follow: %w", size, n, io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), nil
}

func (r *Reader) readIndex(hdr *tar.Header) error {
	if hdr.Size > r.indexBound {
		return invalid(indexEntry, "is %d bytes, more than the %d an index of %d items can need", hdr.Size, r.indexBound, len(r.digests))
	}
	data, err := readEntry(r.tr, hdr.Size)
	if err != nil {
		return r.truncated(indexEntry, err)
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return &InvalidArchiveError{Entry: indexEntry, Reason: "is not a valid index", Err: err}
	}
	if idx.FormatVersion != FormatVersion {
		return invalid(indexEntry, "records format version %d but %s says %d", idx.FormatVersion, versionEntry, FormatVersion)
	}
	for _, e := range idx.Items {
		d, ok := r.digests[e.Path]
		switch {
		case !ok:
			return invalid(e.Path, "is listed in %s but is not in the archive: entries were removed or the archive is truncated", indexEntry)
		case d.indexed:
			return invalid(e.Path, "is listed twice in %s", indexEntry)
		case e.Size != d.size:
			return invalid(e.Path, "size mismatch: %s records %d bytes, the entry has %d", indexEntry, e.Size, d.size)
		}
		want, err := hex.DecodeString(e.SHA256)
		if err != nil || len(want) != sha256.Size {
			return invalid(e.Path, "%s records %q, which is not a hex SHA-256", indexEntry, e.SHA256)
		}
		if !bytes.Equal(want, d.sum[:]) {
			return invalid(e.Path, "sha256 mismatch: %s records %s, the entry's content hashes to %s: the entry was modified or corrupted", indexEntry, e.SHA256, hex.EncodeToString(d.sum[:]))
		}
		d.indexed = true
		r.digests[e.Path] = d
	}
	if len(idx.Items) != len(r.digests) {
		var missing []string
		for p, d := range r.digests {
			if !d.indexed {
				missing = append(missing, p)
			}
		}
		slices.Sort(missing)
		return invalid(missing[0], "is in the archive but not listed in %s (%d such entries): entries were added", indexEntry, len(missing))
	}
	r.index = idx
	r.digests = nil // no longer needed; release it before the caller goes on
	return nil
}

// finish checks that nothing follows the index, that the gzip stream ends
// with a valid checksum, and that the source ends with it.
func (r *Reader) finish() error {
	hdr, err := r.tr.Next()
	switch {
	case err == nil:
		return invalid(hdr.Name, "follows %s, which must be the last entry", indexEntry)
	case err != io.EOF:
		return r.streamError(err)
	}
	n, err := io.Copy(zeroChecker{}, io.LimitReader(r.gz, maxTrailingPadding+1))
	if err != nil {
		if errors.Is(err, errNonZeroPadding) {
			return invalid("", "data follows the end of the tar archive")
		}
		return r.streamError(err)
	}
	if n > maxTrailingPadding {
		return invalid("", "more than %d bytes of padding follow the end of the tar archive", maxTrailingPadding)
	}
	if _, err := r.src.ReadByte(); err != io.EOF {
		if err == nil {
			return invalid("", "data follows the end of the gzip stream")
		}
		return fmt.Errorf("archive: reading the end of the backup archive: %w", err)
	}
	return nil
}

var errNonZeroPadding = errors.New("non-zero padding")

type zeroChecker struct{}

func (zeroChecker) Write(p []byte) (int, error) {
	for _, b := range p {
		if b != 0 {
			return 0, errNonZeroPadding
		}
	}
	return len(p), nil
}
