package local

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"syscall"
)

// rootEntry is the archive entry that carries the volume directory's own
// mode and times.
const rootEntry = "./"

// maxAttempts is how often an entry that is replaced while it is being read
// is looked at again before the snapshot gives up on it.
const maxAttempts = 3

// beforeOpen, when set (by tests), runs between an entry's Lstat and its
// Open: the window in which a pod writing the volume could swap the entry
// for a symlink.
var beforeOpen func(name string)

// writeArchive streams dir as a gzipped PAX tar: directories (including
// empty ones and dir itself, as "./"), regular files and symlinks, with
// their modes (setuid/setgid/sticky too), owners and modification times.
// Sockets and named pipes carry no data and are skipped; device files are
// refused. It returns the owners (uid, gid) the entries had, which restores
// are limited to.
//
// The volume is written by pods, so every entry may change between the
// moment it is listed and the moment it is read. Everything is opened
// through an os.Root, which never resolves a path (symlinks included) to
// anything outside dir, and what was opened is checked to be what was
// listed (same device and inode, same type): a file swapped for a symlink is
// recorded as the symlink, never followed.
func writeArchive(w io.Writer, dir string) (*ownerSet, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// BestSpeed: volume data is large and often already compressed; the
	// default level was 5x slower in BenchmarkSnapshotAndRestore.
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	wr := &volumeWriter{root: root, dir: dir, tw: tar.NewWriter(gz), owners: newOwnerSet()}
	if err := wr.entry("."); err != nil {
		return nil, err
	}
	if err := wr.tw.Close(); err != nil {
		return nil, err
	}
	return wr.owners, gz.Close()
}

type volumeWriter struct {
	root   *os.Root
	dir    string // for messages
	tw     *tar.Writer
	owners *ownerSet
}

// errReplaced means the entry changed between Lstat and Open: it is looked
// at again.
var errReplaced = errors.New("replaced while being read")

// entry archives one entry (and, for a directory, what it holds), looking
// again when it was replaced while being read. An entry removed since its
// directory was listed is left out, as if it had been removed earlier.
func (wr *volumeWriter) entry(name string) error {
	for attempt := 1; ; attempt++ {
		children, err := wr.archiveOnce(name)
		switch {
		case errors.Is(err, fs.ErrNotExist) && name != ".":
			return nil
		case errors.Is(err, errReplaced) && attempt < maxAttempts:
			continue
		case errors.Is(err, errReplaced):
			return fmt.Errorf("%s was replaced %d times while it was being snapshotted; stop the application writing it and retry", wr.path(name), attempt)
		case err != nil:
			return err
		}
		for _, child := range children {
			if err := wr.entry(path.Join(name, child)); err != nil {
				return err
			}
		}
		return nil
	}
}

// archiveOnce writes the header (and contents) of name and returns the
// names of a directory's children, sorted.
func (wr *volumeWriter) archiveOnce(name string) ([]string, error) {
	listed, err := wr.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	mode := listed.Mode()
	switch {
	case mode&(fs.ModeSocket|fs.ModeNamedPipe) != 0:
		return nil, nil
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeIrregular) != 0:
		return nil, fmt.Errorf("%s is a device or special file; the local provider only copies directories, files and symlinks", wr.path(name))
	case mode&fs.ModeSymlink != 0:
		link, err := wr.root.Readlink(name)
		if err != nil {
			// No longer a symlink (EINVAL) or gone: look again.
			return nil, wr.replacedOr(name, listed, err)
		}
		return nil, wr.writeHeader(name, listed, link)
	}

	if beforeOpen != nil {
		beforeOpen(name)
	}
	// O_NONBLOCK: a named pipe swapped in must not hang the snapshot. It is
	// refused below, like anything that is not what was listed.
	f, err := wr.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, wr.replacedOr(name, listed, err)
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(listed, opened) || opened.Mode().Type() != mode.Type() {
		return nil, errReplaced
	}
	if err := wr.writeHeader(name, opened, ""); err != nil {
		return nil, err
	}
	if opened.IsDir() {
		entries, err := f.ReadDir(-1)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", wr.path(name), err)
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		slices.Sort(names)
		return names, nil
	}
	return nil, wr.copyFile(name, f, opened.Size())
}

// replacedOr turns an error on an entry into errReplaced when the entry is
// no longer the one listed (a symlink out of the volume swapped in makes the
// os.Root refuse it, for instance), and leaves it as it is otherwise.
func (wr *volumeWriter) replacedOr(name string, listed fs.FileInfo, err error) error {
	now, lerr := wr.root.Lstat(name)
	if lerr != nil {
		return lerr
	}
	if !os.SameFile(listed, now) || now.Mode().Type() != listed.Mode().Type() {
		return errReplaced
	}
	return fmt.Errorf("%s: %w", wr.path(name), err)
}

func (wr *volumeWriter) writeHeader(name string, info fs.FileInfo, link string) error {
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("%s: %w", wr.path(name), err)
	}
	hdr.Format = tar.FormatPAX
	// User and group names would be looked up on restore on another
	// machine; numeric IDs are what the volume had.
	hdr.Uname, hdr.Gname = "", ""
	switch {
	case name == ".":
		hdr.Name = rootEntry
	case info.IsDir():
		hdr.Name = name + "/"
	default:
		hdr.Name = name
	}
	if err := wr.owners.add(hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("%s: %w", wr.path(name), err)
	}
	if err := wr.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", wr.path(name), err)
	}
	return nil
}

// copyFile copies exactly size bytes: the tar header already promised them,
// so a file that changed length while being read fails the snapshot rather
// than corrupting it.
func (wr *volumeWriter) copyFile(name string, f *os.File, size int64) error {
	n, err := io.CopyN(wr.tw, f, size)
	if err == io.EOF {
		return fmt.Errorf("%s shrank from %d to %d bytes while it was being snapshotted; stop the application writing it and retry", wr.path(name), size, n)
	}
	return err
}

func (wr *volumeWriter) path(name string) string {
	if name == "." {
		return wr.dir
	}
	return wr.dir + "/" + name
}
