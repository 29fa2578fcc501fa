package local

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"
)

// maxSymlinkHops bounds symlink resolution, as the kernel's ELOOP does.
const maxSymlinkHops = 40

// unsafeModeBits are never restored: a volume is mounted into pods, and a
// setuid or setgid file (or a setgid or sticky directory) in it would act
// with the rights of whoever owned it in the backup, or of whatever owner an
// altered archive names.
const unsafeModeBits = fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// extractArchive unpacks a snapshot made by writeArchive into dest, which
// must exist and be empty. Every write goes through an os.Root, so no entry
// can write outside dest even through symlinks; entries named with ".." or
// absolute paths, absolute symlinks and symlinks that resolve outside dest
// are refused, as are entry types writeArchive never produces.
//
// What it writes is bounded by limits; setuid, setgid and sticky bits are
// dropped; and owners are restored (when the server runs as root) only when
// they are among owners, the set the snapshot recorded when it was taken:
// an entry of any other owner is refused. With no recorded owners (a
// snapshot taken before they were recorded), everything belongs to the
// server's user.
func extractArchive(ctx context.Context, r io.Reader, dest string, limits restoreLimits, owners *ownerSet) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("the snapshot is not a gzip stream: %w", err)
	}
	defer gz.Close()
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()

	type dirAttrs struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
		hdr   *tar.Header
	}
	var dirs []dirAttrs
	var links []string
	chown := os.Geteuid() == 0 && !owners.empty()
	var total int64

	tr := tar.NewReader(&boundedReader{r: gz, left: limits.total, limit: limits.total})
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the snapshot archive: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		mode := hdr.FileInfo().Mode() &^ unsafeModeBits
		if chown && !owners.contains(hdr.Uid, hdr.Gid) {
			return fmt.Errorf("snapshot entry %s is owned by %d:%d, an owner the snapshot did not record when it was taken; the archive was altered, so it is not restored",
				name, hdr.Uid, hdr.Gid)
		}

		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := mkParent(root, name+"/x"); err != nil {
					return err
				}
				if err := root.MkdirAll(name, 0o700); err != nil {
					return fmt.Errorf("creating directory %s: %w", name, err)
				}
			}
			// Modes are applied at the end: a read-only directory must stay
			// writable until its contents are in.
			dirs = append(dirs, dirAttrs{name: name, mode: mode, mtime: hdr.ModTime, hdr: hdr})
			continue
		case tar.TypeReg:
			if hdr.Size > limits.file {
				return fmt.Errorf("snapshot entry %s is %d bytes, more than the %s a restored file may have (%s): raise persistentVolumeProvider.config.%s if the volume really holds such a file",
					name, hdr.Size, formatBytes(limits.file), MaxRestoreFileBytesKey, MaxRestoreFileBytesKey)
			}
			if total += hdr.Size; total > limits.total {
				return fmt.Errorf("the snapshot's files add up to more than %s (%s) at %s: raise persistentVolumeProvider.config.%s if the volume really is that large",
					formatBytes(limits.total), MaxRestoreBytesKey, name, MaxRestoreBytesKey)
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("creating file %s: %w", name, err)
			}
			_, copyErr := io.Copy(f, tr)
			closeErr := f.Close()
			if copyErr != nil {
				return fmt.Errorf("writing file %s: %w", name, copyErr)
			}
			if closeErr != nil {
				return fmt.Errorf("writing file %s: %w", name, closeErr)
			}
			if chown {
				if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
					return fmt.Errorf("setting the owner of %s: %w", name, err)
				}
			}
			if err := root.Chmod(name, mode); err != nil {
				return fmt.Errorf("setting the mode of %s: %w", name, err)
			}
			if err := root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
				return fmt.Errorf("setting the times of %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, hdr.Linkname); err != nil {
				return err
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("creating symlink %s: %w", name, err)
			}
			if chown {
				if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
					return fmt.Errorf("setting the owner of %s: %w", name, err)
				}
			}
			links = append(links, name)
		default:
			return fmt.Errorf("snapshot entry %q has type %q, which local snapshots never contain; the archive is corrupt or was tampered with",
				hdr.Name, string(hdr.Typeflag))
		}
	}

	// Symlinks are checked once all exist, because a chain of individually
	// harmless links ("d/s -> ..", "d/t -> s/../..") can still lead out.
	for _, l := range links {
		if err := checkLinkResolvesInside(root, l); err != nil {
			return err
		}
	}

	// Deepest directories first, so setting a parent's mtime is the last
	// change inside it.
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i].name, "/") > strings.Count(dirs[j].name, "/") })
	for _, d := range dirs {
		if chown {
			if err := root.Lchown(d.name, d.hdr.Uid, d.hdr.Gid); err != nil {
				return fmt.Errorf("setting the owner of %s: %w", d.name, err)
			}
		}
		if err := root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", d.name, err)
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("setting the times of %s: %w", d.name, err)
		}
	}
	return nil
}

// entryName validates an archive path and returns it relative to the
// destination ("." for the volume directory itself).
func entryName(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("snapshot entry with an empty name: the archive is corrupt")
	}
	if strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("snapshot entry %q is an absolute path; refusing to restore a hostile archive", raw)
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", fmt.Errorf("snapshot entry %q leaves the volume with \"..\"; refusing to restore a hostile archive", raw)
		}
	}
	if strings.ContainsRune(raw, 0) {
		return "", fmt.Errorf("snapshot entry %q contains a NUL byte: the archive is corrupt", raw)
	}
	return path.Clean(raw), nil
}

// mkParent creates the directories above name. Local snapshots never put
// an entry beneath a symlink (the archive writer does not follow them), so
// an archive that does is refused even when the link stays inside.
func mkParent(root *os.Root, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		info, err := root.Lstat(sub)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("checking %s: %w", sub, err)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("snapshot entry %s is written through the symlink %s; refusing to restore a hostile archive", name, sub)
		}
	}
	if err := root.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating directory %s: %w", dir, err)
	}
	return nil
}

// checkLinkTarget refuses absolute targets and targets that leave the
// volume by their own "..": a restored volume is mounted into pods, where
// such a link would expose the host.
func checkLinkTarget(name, target string) error {
	if target == "" {
		return fmt.Errorf("symlink %s has an empty target: the archive is corrupt", name)
	}
	if strings.HasPrefix(target, "/") {
		return fmt.Errorf("symlink %s points to the absolute path %s; refusing to restore a link that escapes the volume", name, target)
	}
	if resolved := path.Join(path.Dir(name), target); resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink %s -> %s points outside the volume; refusing to restore it", name, target)
	}
	return nil
}

// checkLinkResolvesInside follows link component by component, through any
// other symlinks, and fails if the walk ever climbs above the root. Missing
// components (dangling links) are fine as long as they stay inside.
func checkLinkResolvesInside(root *os.Root, link string) error {
	target, err := root.Readlink(link)
	if err != nil {
		return err
	}
	// Walk from the root through the link's own directory too, in case it
	// contains symlinks.
	var cur []string
	pending := append(strings.Split(path.Dir(link), "/"), strings.Split(target, "/")...)
	hops := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return fmt.Errorf("symlink %s -> %s resolves outside the volume through other symlinks; refusing to restore it", link, target)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := append(append([]string(nil), cur...), part)
		info, err := root.Lstat(strings.Join(next, "/"))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			cur = next
			continue
		}
		if err != nil {
			return fmt.Errorf("checking symlink %s: %w", link, err)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return fmt.Errorf("symlink %s: too many levels of symbolic links", link)
		}
		inner, err := root.Readlink(strings.Join(next, "/"))
		if err != nil {
			return err
		}
		if strings.HasPrefix(inner, "/") {
			return fmt.Errorf("symlink %s resolves through an absolute symlink; refusing to restore it", link)
		}
		pending = append(strings.Split(inner, "/"), pending...)
	}
	return nil
}
