package archive

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	maxVersionEntrySize = 64
	// maxTrailingPadding is how many zero bytes may follow the tar end
	// marker inside the gzip stream (GNU tar pads to 10 KiB records).
	maxTrailingPadding = 1 << 20
)

// Reader reads an archive as a stream and validates every entry before
// returning it. Items returned by Next are individually valid, but the archive
// as a whole (nothing missing, added, changed, or stored twice) is confirmed
// only when Next returns io.EOF: do nothing irreversible before that, or use
// Extract, which returns only a fully checked archive.
//
// It reads every format of Ark's lineage (see Format) unless
// Limits.RequireIndex is set; Format says which one it found.
type Reader struct {
	lim     Limits
	in      *sourceReader
	src     *bufio.Reader
	gz      *gzip.Reader
	inflate *boundedReader // the decompressed stream, counted against MaxTotalSize
	tr      *tar.Reader
	last    string      // name of the last entry read, for errors about what follows it
	pending *tar.Header // the first item's header, read while looking for metadata/version

	format     Format
	digests    digestTable // nil when the format has no index to check
	listing    listingBuilder
	items      int
	indexBound int64 // the largest metadata/index.json the entries read so far can need

	done bool
	err  error
}

// NewReader starts reading the compressed archive r with the given limits
// (zero fields mean the defaults) and reads its metadata/version, if it has
// one. When Next has returned io.EOF, r has been read to its end, so a
// VerifyingReader around it can be verified.
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
			return nil, invalid("", "the archive is not gzip-compressed: expected a .tar.gz written by Ark, Heptio Ark or Velero")
		default:
			return nil, &InvalidArchiveError{Reason: "cannot read the gzip header: the archive is truncated or corrupted", Err: err}
		}
	}
	gz.Multistream(false)
	inflate := &boundedReader{r: gz, max: lim.MaxTotalSize}
	ar := &Reader{
		lim:        lim,
		in:         in,
		src:        src,
		gz:         gz,
		inflate:    inflate,
		tr:         tar.NewReader(inflate),
		indexBound: indexBytesFixed,
		listing:    newListingBuilder(),
	}
	if err := ar.readVersion(); err != nil {
		return nil, err
	}
	return ar, nil
}

// readVersion reads metadata/version, the first entry of every format that
// has one (directory entries aside), and so learns the format.
func (r *Reader) readVersion() error {
	var hdr *tar.Header
	for hdr == nil || hdr.Typeflag == tar.TypeDir {
		var err error
		if hdr, err = r.nextHeader(); err == errTarEnd {
			return invalid("", "the archive holds no entries: it is not a backup archive, or it is truncated")
		} else if err != nil {
			return err
		}
	}
	if hdr.Name != versionEntry {
		if r.lim.RequireIndex {
			return invalid(hdr.Name, "the first entry must be %s: this is not an Ark backup archive (format version %d), or it is corrupted", versionEntry, FormatVersion)
		}
		r.format = Format{Origin: OriginHeptioArk7}
		r.pending = hdr
		return nil
	}
	if hdr.Size > maxVersionEntrySize {
		return invalid(versionEntry, "is %d bytes; a format version is at most %d", hdr.Size, maxVersionEntrySize)
	}
	data, err := readEntry(r.tr, hdr.Size)
	if err != nil {
		return r.truncated(versionEntry, err)
	}
	if r.format, err = formatOfVersion(data); err != nil {
		return err
	}
	if r.format.Version == "1" {
		r.digests = digestTable{}
	} else if r.lim.RequireIndex {
		return invalid(versionEntry, "format version %q has no index, and this reader requires one (Limits.RequireIndex)", r.format.Version)
	}
	return nil
}

// Format is what the archive was recognised as. Indexed (and Origin, for an
// archive of this Ark) are final only once Next has returned io.EOF.
func (r *Reader) Format() Format { return r.format }

// Next returns the next resource item and its JSON. It returns io.EOF only
// after the whole archive was checked: for an archive with an index, that
// metadata/index.json matched every entry; for every format, that no object
// is stored twice and that the gzip stream ended cleanly with nothing after
// it. Any other error is an *InvalidArchiveError, except a read error of the
// source itself, which is wrapped as is (errors.Is finds it); either is
// returned again by every later call.
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

func (r *Reader) next() (Item, []byte, error) {
	for {
		hdr := r.pending
		r.pending = nil
		if hdr == nil {
			var err error
			hdr, err = r.nextHeader()
			if err == errTarEnd {
				return Item{}, nil, r.endWithoutIndex()
			}
			if err != nil {
				return Item{}, nil, err
			}
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		name := hdr.Name
		switch {
		case name == indexEntry:
			return Item{}, nil, r.endWithIndex(hdr)
		case name == versionEntry && r.format.Version == "":
			return Item{}, nil, invalid(name, "must be the first entry")
		case name == versionEntry:
			return Item{}, nil, invalid(name, "appears twice")
		case strings.HasPrefix(name, metadataDir+"/"):
			return Item{}, nil, invalid(name, "unknown metadata entry (archives have only %s and %s)", versionEntry, indexEntry)
		}
		return r.readItem(hdr)
	}
}

func (r *Reader) readItem(hdr *tar.Header) (Item, []byte, error) {
	name := hdr.Name
	ep, err := parsePath(name)
	if err != nil {
		return Item{}, nil, &InvalidArchiveError{Entry: name, Reason: "not part of the backup layout", Err: err}
	}
	var key pathKey
	if r.digests != nil {
		key = keyOf(name)
		if _, dup := r.digests[key]; dup {
			return Item{}, nil, invalid(name, "appears twice")
		}
	}
	if r.items >= r.lim.MaxEntries {
		return Item{}, nil, invalid(name, "the archive has more than %d items (Limits.MaxEntries)", r.lim.MaxEntries)
	}
	if hdr.Size > r.lim.MaxEntrySize {
		return Item{}, nil, invalid(name, "is %d bytes, more than the %d allowed for one entry (Limits.MaxEntrySize)", hdr.Size, r.lim.MaxEntrySize)
	}
	if r.inflate.n+hdr.Size > r.lim.MaxTotalSize {
		return Item{}, nil, invalid(name, "the archive decompresses to more than %d bytes (Limits.MaxTotalSize)", r.lim.MaxTotalSize)
	}
	data, err := readEntry(r.tr, hdr.Size)
	if err != nil {
		return Item{}, nil, r.truncated(name, err)
	}
	if !isJSONObject(data) {
		return Item{}, nil, invalid(name, "content is not a JSON object")
	}
	if ep.name.LongHash != "" {
		if err := ep.name.resolve(objectName(data)); err != nil {
			return Item{}, nil, &InvalidArchiveError{Entry: name, Reason: "long name does not match its object", Err: err}
		}
		ep.item.Name = ep.name.Name
	}
	if err := r.listing.add(ep.item); err != nil {
		return Item{}, nil, &InvalidArchiveError{Entry: name, Reason: "inconsistent version directories", Err: err}
	}
	r.items++
	if r.digests != nil {
		r.indexBound += indexSizeBound(len(name))
		r.digests[key] = entryDigest{sum: sha256.Sum256(data), size: hdr.Size}
	}
	return ep.item, data, nil
}

// objectName is the metadata.name of an object's JSON, "" if it has none.
func objectName(data []byte) string {
	var obj struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &obj) != nil {
		return ""
	}
	return obj.Metadata.Name
}

var errTarEnd = errors.New("end of the tar archive")

// nextHeader returns the next tar header, refusing names that are unsafe as
// paths and anything that is not a regular file or a directory of the
// layout. It returns errTarEnd at the end of the tar archive.
func (r *Reader) nextHeader() (*tar.Header, error) {
	hdr, err := r.tr.Next()
	if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
		err = nil // refused below, with the reason
	}
	if err == io.EOF {
		return nil, errTarEnd
	}
	if err != nil {
		return nil, r.streamError(err)
	}
	if hdr.Typeflag == tar.TypeDir && !r.lim.RequireIndex {
		// Archives repacked with tar(1) have entries for their directories.
		dir := strings.TrimSuffix(hdr.Name, "/")
		if problem := unsafePathProblem(dir); problem != "" {
			return nil, invalid(hdr.Name, "unsafe entry name: %s", problem)
		}
		if !isLayoutDir(dir) {
			return nil, invalid(hdr.Name, "is a directory that is not part of the backup layout")
		}
		r.last = hdr.Name
		return hdr, nil
	}
	if problem := unsafePathProblem(hdr.Name); problem != "" {
		return nil, invalid(hdr.Name, "unsafe entry name: %s", problem)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, invalid(hdr.Name, "%s; a backup archive holds only regular files", describeType(hdr))
	}
	r.last = hdr.Name
	return hdr, nil
}

// endWithIndex checks metadata/index.json against the entries read, then
// that nothing follows it.
func (r *Reader) endWithIndex(hdr *tar.Header) error {
	if r.digests == nil {
		return invalid(indexEntry, "an archive of %s has no index; only format version %d does", r.format.Origin, FormatVersion)
	}
	if hdr.Size > r.indexBound {
		return invalid(indexEntry, "is %d bytes, more than the %d an index of %d items can need", hdr.Size, r.indexBound, len(r.digests))
	}
	body := &readErrors{r: io.LimitReader(r.tr, hdr.Size)}
	err := verifyIndex(body, r.digests)
	switch {
	case err == errUnlisted:
		return r.unlistedError()
	case err != nil && body.err != nil:
		// The entry itself ended early, or the stream failed under it.
		return r.truncated(indexEntry, body.err)
	case err != nil:
		return err
	}
	r.digests = nil // no longer needed; release it before the caller goes on
	if next, err := r.tr.Next(); err == nil {
		return invalid(next.Name, "follows %s, which must be the last entry", indexEntry)
	} else if err != io.EOF {
		return r.streamError(err)
	}
	if err := r.finish(); err != nil {
		return err
	}
	r.format.Origin, r.format.Indexed = OriginArk, true
	return io.EOF
}

// endWithoutIndex ends an archive whose tar stream ended without
// metadata/index.json: a truncated archive of this Ark, or one of a format
// that has none.
func (r *Reader) endWithoutIndex() error {
	if r.lim.RequireIndex {
		return invalid("", "the archive ends after entry %q without %s: it is truncated", r.last, indexEntry)
	}
	r.digests = nil
	if err := r.finish(); err != nil {
		return err
	}
	return io.EOF
}

// unlistedError names an entry that the index does not list.
func (r *Reader) unlistedError() error {
	unlisted := 0
	for _, d := range r.digests {
		if d.size >= 0 {
			unlisted++
		}
	}
	first := ""
	r.listing.each(func(it Item) {
		p := it.Path()
		if d, ok := r.digests[keyOf(p)]; ok && d.size >= 0 && (first == "" || p < first) {
			first = p
		}
	})
	return invalid(first, "is in the archive but not listed in %s (%d such entries): entries were added", indexEntry, unlisted)
}

// finish checks what follows the tar archive: zero padding at most, then the
// end of the gzip stream (its checksum included), then the end of the source.
// Last, no object may be stored twice.
func (r *Reader) finish() error {
	n, err := io.Copy(zeroChecker{}, io.LimitReader(r.inflate, maxTrailingPadding+1))
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
	if dup, found := r.listing.finish(); found {
		return invalid(dup.Path(), "appears twice: two entries hold %s", dup)
	}
	return nil
}
