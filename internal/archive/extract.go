package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// Contents is a fully checked archive extracted to Dir.
type Contents struct {
	Dir string
	// Format is what the archive was recognised as; Format.Unverified says
	// when its items could not be verified one by one (no index).
	Format Format
	// Items is the number of resource entries.
	Items int
	// Resources maps a resource ("configmaps", "deployments.apps") to what
	// the archive holds of it.
	Resources map[string]*ResourceItems

	// root is Dir, opened once by Extract: Open reads every item through
	// it rather than opening Dir again per item (a restore of 100,000
	// items would spend more system calls opening Dir than reading items).
	root *os.Root
}

// Close releases the directory handle Open uses; Open fails after it. (A
// Contents left unclosed has its handle closed when it is collected.)
func (c *Contents) Close() error {
	if c.root == nil {
		return nil
	}
	return c.root.Close()
}

// Extract reads the whole archive from r, validates it as Reader does, and
// writes its items under dir, which must not exist yet (or be empty). Each
// item is stored at its canonical path (Item.Path: encoded names, every path
// component at most 255 bytes), whatever entry name the archive used for it.
// Files are created through an os.Root on dir with O_EXCL, so nothing can be
// written outside it or over another item. Files are readable by the owner
// only, as backups hold Secrets.
//
// Extract returns Contents only when every check passed. On any failure it
// returns an error and removes what it wrote (and dir itself if it created
// it); callers should still delete dir. On success r has been read to its end,
// so a VerifyingReader around it can be verified.
func Extract(r io.Reader, dir string, lim Limits) (_ *Contents, err error) {
	if dir == "" {
		return nil, errors.New("archive: Extract needs a directory to extract into, got an empty path")
	}
	created, err := makeEmptyDir(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("archive: opening %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			if created {
				_ = os.RemoveAll(dir)
			} else {
				_ = root.RemoveAll(resourcesDir)
			}
			_ = root.Close()
		}
	}()

	ar, err := NewReader(r, lim)
	if err != nil {
		return nil, err
	}
	madeDirs := make(map[string]bool)
	for {
		item, data, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		err = writeItem(root, madeDirs, item, data)
		if errors.Is(err, fs.ErrExist) {
			return nil, invalid(ar.last, "appears twice: another entry already held %s", item)
		}
		if err != nil {
			return nil, fmt.Errorf("archive: extracting %s into %s: %w", item.Path(), dir, err)
		}
	}
	return &Contents{Dir: dir, Format: ar.Format(), Items: ar.items, Resources: ar.listing.resources, root: root}, nil
}

// Open returns the JSON of one extracted item.
func (c *Contents) Open(item Item) ([]byte, error) {
	if err := item.validate(); err != nil {
		return nil, fmt.Errorf("archive: cannot open %s: %w", item, err)
	}
	root := c.root
	if root == nil { // a Contents not made by Extract
		var err error
		if root, err = os.OpenRoot(c.Dir); err != nil {
			return nil, fmt.Errorf("archive: opening the extracted backup: %w", err)
		}
		defer root.Close()
	}
	data, err := root.ReadFile(item.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("archive: the backup has no %s", item)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: reading %s: %w", item, err)
	}
	return data, nil
}

func writeItem(root *os.Root, madeDirs map[string]bool, item Item, data []byte) error {
	p := item.Path()
	parent := path.Dir(p)
	if !madeDirs[parent] {
		if err := root.MkdirAll(parent, 0o700); err != nil {
			return err
		}
		madeDirs[parent] = true
	}
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// makeEmptyDir creates dir, or accepts it if it is an existing empty
// directory, so that what Extract returns is exactly what the archive held.
func makeEmptyDir(dir string) (created bool, err error) {
	err = os.Mkdir(dir, 0o700)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("archive: creating the extraction directory: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return false, fmt.Errorf("archive: opening the extraction directory: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("archive: %s exists and is not a readable directory: pass a new directory to extract into: %w", dir, err)
	}
	if len(names) > 0 {
		return false, fmt.Errorf("archive: %s already exists and is not empty: pass a new directory to extract into", dir)
	}
	return false, nil
}
