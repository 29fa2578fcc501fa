package archive

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// What the Reader needs of the stream under it: telling a failing source, a
// truncated or corrupted archive and one that inflates too much apart, and
// reading entries whose headers may lie.

func (r *Reader) streamError(err error) error {
	where := "at its start"
	if r.last != "" {
		where = fmt.Sprintf("after entry %q", r.last)
	}
	var corrupt flate.CorruptInputError
	switch {
	case r.in.err != nil:
		return fmt.Errorf("archive: reading the backup archive %s: %w", where, r.in.err)
	case errors.Is(err, errTooLarge):
		return &InvalidArchiveError{Reason: fmt.Sprintf("the archive decompresses to more than %d bytes (Limits.MaxTotalSize), tar headers included, %s", r.lim.MaxTotalSize, where)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &InvalidArchiveError{Reason: "the archive is truncated " + where, Err: err}
	case errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt), errors.Is(err, tar.ErrHeader):
		return &InvalidArchiveError{Reason: "the archive is corrupted " + where, Err: err}
	default:
		return &InvalidArchiveError{Reason: "cannot read the archive " + where, Err: err}
	}
}

// truncated reports an entry that ended early: a failing source (a network
// error, worth retrying) is told apart from an archive that is short or
// inflates beyond the limit.
func (r *Reader) truncated(entry string, err error) error {
	if r.in.err != nil {
		return fmt.Errorf("archive: reading entry %q of the backup archive: %w", entry, r.in.err)
	}
	if errors.Is(err, errTooLarge) {
		return r.streamError(err)
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

// smallEntrySize is the largest entry read into a buffer sized from its
// header; larger ones grow with the data actually read, so a header that lies
// about its size costs no more memory than the bytes behind it.
const smallEntrySize = 1 << 20

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

// readErrors remembers the first error other than io.EOF of a reader, so
// that a decoder's complaint can be told from the stream's.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
