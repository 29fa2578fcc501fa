// Package tempfiles lets a server tell the temporary files and directories a
// crashed server left behind (an operation's log, a restore's extracted
// archive, an upload in progress) from those a live process is using: a
// process holds an advisory lock (flock) on each while it uses it, and the
// kernel drops a lock when its process dies. RemoveStale removes what no one
// holds.
//
// Where flock is not available, nothing is ever taken for stale.
package tempfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Lock is a held lock on a temporary file or directory. Release drops it.
type Lock struct{ f *os.File }

// Release drops the lock (the path may then be taken for stale).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Hold locks the file or directory at path for as long as this process
// uses it. It fails if another process holds it, or if path no longer is
// the object that was there when the lock was taken (a cleaner removed it
// in between: the caller makes a new one).
func Hold(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return HoldOpen(f, path, func() (fs.FileInfo, error) { return os.Lstat(path) })
}

// HoldOpen is Hold for a file already opened (f, which the Lock then owns;
// it is closed on failure) whose current state at its path lstat reports:
// for files reached through an os.Root.
func HoldOpen(f *os.File, name string, lstat func() (fs.FileInfo, error)) (*Lock, error) {
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is held by another process", name)
		}
		return nil, err
	}
	held, err := f.Stat()
	if err == nil {
		var now fs.FileInfo
		if now, err = lstat(); err == nil && !os.SameFile(held, now) {
			err = fmt.Errorf("%s was replaced while it was being locked", name)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Supported reports whether locks work here, so stale files can be told
// from live ones at all.
func Supported() bool { return lockingSupported }

// CreateFile is os.CreateTemp(dir, pattern) with the new file held. It tries
// again with a new name in the unlikely case a cleaner removed the file
// between its creation and its lock.
func CreateFile(dir, pattern string) (*os.File, *Lock, error) {
	var lastErr error
	for range 3 {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, nil, err
		}
		l, err := Hold(f.Name())
		if err == nil {
			return f, l, nil
		}
		f.Close()
		lastErr = err
	}
	return nil, nil, lastErr
}

// MkdirTemp is os.MkdirTemp(dir, pattern) with the new directory held.
func MkdirTemp(dir, pattern string) (string, *Lock, error) {
	var lastErr error
	for range 3 {
		path, err := os.MkdirTemp(dir, pattern)
		if err != nil {
			return "", nil, err
		}
		l, err := Hold(path)
		if err == nil {
			return path, l, nil
		}
		lastErr = err
	}
	return "", nil, lastErr
}

// RemoveStale removes the files and directories in dir (os.TempDir() when
// empty) that match one of patterns (as filepath.Match; a pattern of
// os.CreateTemp, "ark-log-*.gz", works as is) and that no process holds. It
// returns the paths it removed.
func RemoveStale(dir string, patterns ...string) ([]string, error) {
	if !lockingSupported {
		return nil, nil
	}
	if dir == "" {
		dir = os.TempDir()
	}
	var removed []string
	var errs []error
	for _, pattern := range patterns {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return removed, fmt.Errorf("pattern %q: %w", pattern, err)
		}
		for _, path := range matches {
			gone, err := removeIfStale(path)
			if err != nil {
				errs = append(errs, err)
			}
			if gone {
				removed = append(removed, path)
			}
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfStale removes path if it can take its lock, holding the lock while
// it removes, so a process cannot take it up meanwhile.
func removeIfStale(path string) (bool, error) {
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&fs.ModeSymlink != 0 {
		return false, nil // gone already, or not something Ark made
	}
	l, err := Hold(path)
	if err != nil {
		return false, nil // held: in use
	}
	defer l.Release()
	if err := os.RemoveAll(path); err != nil {
		return false, fmt.Errorf("removing the stale %s: %w", path, err)
	}
	return true, nil
}
