package local

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// rootEntry is the archive entry that carries the volume directory's own
// mode and times.
const rootEntry = "./"

// writeArchive streams dir as a gzipped PAX tar: directories (including
// empty ones and dir itself, as "./"), regular files and symlinks, with
// their modes (setuid/setgid/sticky too), owners and modification times.
// Sockets and named pipes carry no data and are skipped; device files are
// refused.
func writeArchive(w io.Writer, dir string) error {
	// BestSpeed: volume data is large and often already compressed; the
	// default level was 5x slower in BenchmarkSnapshotAndRestore.
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)

		mode := info.Mode()
		var link string
		switch {
		case mode&(fs.ModeSocket|fs.ModeNamedPipe) != 0:
			return nil
		case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeIrregular) != 0:
			return fmt.Errorf("%s is a device or special file; the local provider only copies directories, files and symlinks", path)
		case mode&fs.ModeSymlink != 0:
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}

		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
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
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			return copyFile(tw, path, hdr.Size)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// copyFile copies exactly size bytes: the tar header already promised them,
// so a file that changed length while being read fails the snapshot rather
// than corrupting it.
func copyFile(w io.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyN(w, f, size)
	if err == io.EOF {
		return fmt.Errorf("%s shrank from %d to %d bytes while it was being snapshotted; stop the application writing it and retry", path, size, n)
	}
	return err
}
