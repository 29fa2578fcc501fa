// Package local "snapshots" hostPath and local PersistentVolumes on a single
// machine by streaming the volume's directory, as a tar.gz, into object
// storage, and restores by extracting it into a new directory.
//
// It exists for the quickstart and the test cluster, where there is no
// kubelet and the Ark server runs on the same host as the volumes'
// directories. It is not crash-consistent (files are read while the
// application may be writing them) and it does not scale beyond one machine.
//
// Config keys (the Ark Config's persistentVolumeProvider.config):
//
//	volumeRoot           directory under which restored volumes are created;
//	                     required for restores, not for backups
//	maxRestoreBytes      bound of a restored volume (default 32Gi)
//	maxRestoreFileBytes  bound of one restored file (default 8Gi)
//
// Objects, in the bucket and under the key prefix the caller chooses:
//
//	<prefix><snapshotID>.tar.gz   the volume's tree: modes, times, symlinks
//	<prefix><snapshotID>.json     {"snapshotID", "sourcePath", "createdAt", "tags", "owners"}
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/snapshot"
)

// VolumeRootKey is the config key of the directory restored volumes go in.
const VolumeRootKey = "volumeRoot"

// DefaultPrefix is the key prefix callers use unless they have a reason not
// to. Snapshots share the bucket with backups, whose top-level directories
// are backup names, and deleting a backup deletes everything under its name:
// "_" cannot appear in a Kubernetes object name, so no backup can own (and
// its deletion take away) this prefix.
const DefaultPrefix = "_snapshots/"

var errStoreStoppedReading = errors.New("the object store stopped reading the snapshot before its end")

var snapshotIDPattern = regexp.MustCompile(`^local-[0-9a-f]{32}$`)

// BlockStore implements snapshot.BlockStore over directories and an
// objectstore.ObjectStore.
type BlockStore struct {
	store      objectstore.ObjectStore
	bucket     string
	prefix     string
	volumeRoot string
	limits     restoreLimits
}

var _ snapshot.BlockStore = (*BlockStore)(nil)

// New builds a local block store that keeps snapshots in bucket under prefix
// (e.g. "snapshots/"; a missing trailing slash is added).
// Keys are the config keys of the local block store.
var Keys = providerconfig.Keys{Known: []string{VolumeRootKey, MaxRestoreBytesKey, MaxRestoreFileBytesKey}}

func New(store objectstore.ObjectStore, bucket, prefix string, cfg map[string]string) (*BlockStore, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("%w: local block store: %w", snapshot.ErrInvalidConfig, err)
	}
	if store == nil || bucket == "" {
		return nil, fmt.Errorf("%w: the local block store needs the backup object store and its bucket", snapshot.ErrInvalidConfig)
	}
	if prefix != "" && prefix[len(prefix)-1] != '/' {
		prefix += "/"
	}
	root := cfg[VolumeRootKey]
	if root != "" {
		if !filepath.IsAbs(root) {
			return nil, fmt.Errorf("%w: %s %q must be an absolute path", snapshot.ErrInvalidConfig, VolumeRootKey, root)
		}
		root = filepath.Clean(root)
	}
	limits, err := parseRestoreLimits(cfg)
	if err != nil {
		return nil, err
	}
	return &BlockStore{store: store, bucket: bucket, prefix: prefix, volumeRoot: root, limits: limits}, nil
}

func (b *BlockStore) archiveKey(id string) string  { return b.prefix + id + ".tar.gz" }
func (b *BlockStore) metadataKey(id string) string { return b.prefix + id + ".json" }

// GetVolumeInfo checks that the volume's directory exists. Directories have
// no type or IOPS.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, zone string) (string, *int64, error) {
	if _, err := volumeDir(volumeID); err != nil {
		return "", nil, err
	}
	return "", nil, nil
}

type metadata struct {
	SnapshotID string            `json:"snapshotID"`
	SourcePath string            `json:"sourcePath"`
	CreatedAt  time.Time         `json:"createdAt"`
	Tags       map[string]string `json:"tags"`
	// Owners are the owners the volume's entries had; a restore gives
	// entries no other owner. Absent in snapshots of older versions.
	Owners []Owner `json:"owners,omitempty"`
}

// maxMetadataBytes bounds the metadata file read on restore (1,024 owners
// and the tags are far less).
const maxMetadataBytes = 1 << 20

// CreateSnapshot streams the directory volumeID into the object store as a
// tar.gz, then writes its tags next to it.
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (string, error) {
	dir, err := volumeDir(volumeID)
	if err != nil {
		return "", err
	}
	// The PV names the directory (an administrator chose it, not a pod): a
	// symlink there is followed once, and the real path recorded.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", fmt.Errorf("local volume %s: %w", volumeID, err)
	}
	id, err := newSnapshotID()
	if err != nil {
		return "", err
	}

	pr, pw := io.Pipe()
	archived := make(chan error, 1)
	var owners *ownerSet
	go func() {
		var err error
		owners, err = writeArchive(pw, dir)
		pw.CloseWithError(err)
		archived <- err
	}()
	putErr := b.store.PutObject(ctx, b.bucket, b.archiveKey(id), pr)
	// Unblock the writer if PutObject stopped reading early.
	pr.CloseWithError(errStoreStoppedReading)
	archiveErr := <-archived
	if archiveErr != nil || putErr != nil {
		_ = b.store.DeleteObject(context.WithoutCancel(ctx), b.bucket, b.archiveKey(id))
		if archiveErr != nil && !errors.Is(archiveErr, errStoreStoppedReading) {
			return "", fmt.Errorf("snapshotting %s: %w", dir, archiveErr)
		}
		if putErr == nil {
			putErr = errStoreStoppedReading
		}
		return "", fmt.Errorf("snapshotting %s: uploading to %s/%s: %w", dir, b.bucket, b.archiveKey(id), putErr)
	}

	meta, err := json.MarshalIndent(metadata{SnapshotID: id, SourcePath: dir, CreatedAt: time.Now().UTC(), Tags: tags, Owners: owners.list()}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := b.store.PutObject(ctx, b.bucket, b.metadataKey(id), bytes.NewReader(meta)); err != nil {
		_ = b.store.DeleteObject(context.WithoutCancel(ctx), b.bucket, b.archiveKey(id))
		return "", fmt.Errorf("snapshotting %s: writing %s/%s: %w", dir, b.bucket, b.metadataKey(id), err)
	}
	return id, nil
}

// CreateVolumeFromSnapshot extracts the snapshot into a new directory under
// volumeRoot and returns its path. The tree is extracted into a hidden
// staging directory and renamed into place only when complete, so a path
// this returns (or IsVolumeReady sees) is never half-written.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	if err := checkSnapshotID(snapshotID); err != nil {
		return "", err
	}
	if b.volumeRoot == "" {
		return "", fmt.Errorf("%w: restoring local snapshot %s needs %q in the local block store config: set "+
			"persistentVolumeProvider.config.volumeRoot to a directory on this machine where restored volumes are created",
			snapshot.ErrInvalidConfig, snapshotID, VolumeRootKey)
	}
	if err := os.MkdirAll(b.volumeRoot, 0o755); err != nil {
		return "", fmt.Errorf("creating %s %s: %w", VolumeRootKey, b.volumeRoot, err)
	}

	owners, err := b.recordedOwners(ctx, snapshotID)
	if err != nil {
		return "", err
	}
	body, err := b.store.GetObject(ctx, b.bucket, b.archiveKey(snapshotID))
	if errors.Is(err, objectstore.ErrNotFound) {
		return "", fmt.Errorf("local snapshot %s: %w: %s/%s does not exist; it was deleted, or the Ark Config points at another bucket",
			snapshotID, snapshot.ErrNotFound, b.bucket, b.archiveKey(snapshotID))
	}
	if err != nil {
		return "", fmt.Errorf("reading local snapshot %s: %w", snapshotID, err)
	}
	defer body.Close()

	suffix, err := randomHex(4)
	if err != nil {
		return "", err
	}
	final := filepath.Join(b.volumeRoot, snapshotID+"-"+suffix)
	staging, err := os.MkdirTemp(b.volumeRoot, "."+filepath.Base(final)+".partial-")
	if err != nil {
		return "", fmt.Errorf("restoring local snapshot %s: %w", snapshotID, err)
	}
	if err := extractArchive(ctx, body, staging, b.limits, owners); err != nil {
		_ = removeTree(staging)
		return "", fmt.Errorf("restoring local snapshot %s: %w", snapshotID, err)
	}
	if err := os.Rename(staging, final); err != nil {
		_ = removeTree(staging)
		return "", fmt.Errorf("restoring local snapshot %s: %w", snapshotID, err)
	}
	return final, nil
}

// recordedOwners reads the owners the snapshot's metadata recorded; nil
// when it recorded none (older snapshots, or a missing metadata file).
func (b *BlockStore) recordedOwners(ctx context.Context, snapshotID string) (*ownerSet, error) {
	body, err := b.store.GetObject(ctx, b.bucket, b.metadataKey(snapshotID))
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading local snapshot %s: %w", snapshotID, err)
	}
	defer body.Close()
	var meta metadata
	if err := json.NewDecoder(io.LimitReader(body, maxMetadataBytes)).Decode(&meta); err != nil {
		return nil, fmt.Errorf("local snapshot %s: its metadata %s/%s is not valid JSON (%v); the bucket's copy is corrupt",
			snapshotID, b.bucket, b.metadataKey(snapshotID), err)
	}
	if len(meta.Owners) > maxOwners {
		return nil, fmt.Errorf("local snapshot %s: its metadata records %d owners, more than the %d a snapshot can have; the bucket's copy was altered",
			snapshotID, len(meta.Owners), maxOwners)
	}
	if len(meta.Owners) == 0 {
		return nil, nil
	}
	return ownerSetOf(meta.Owners), nil
}

// IsVolumeReady reports whether the restored directory exists; it appears
// only once fully extracted.
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error) {
	_, err := volumeDir(volumeID)
	if errors.Is(err, snapshot.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteSnapshot deletes the snapshot's archive and metadata.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	if err := checkSnapshotID(snapshotID); err != nil {
		return err
	}
	for _, key := range []string{b.archiveKey(snapshotID), b.metadataKey(snapshotID)} {
		if err := b.store.DeleteObject(ctx, b.bucket, key); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("deleting local snapshot %s: %s/%s: %w", snapshotID, b.bucket, key, err)
		}
	}
	return nil
}

func volumeDir(volumeID string) (string, error) {
	if !filepath.IsAbs(volumeID) {
		return "", fmt.Errorf("local volume %q is not an absolute path", volumeID)
	}
	dir := filepath.Clean(volumeID)
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("local volume %s: %w: the directory does not exist on this machine (the local provider "+
			"only works when the Ark server runs on the host of the volume)", dir, snapshot.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("local volume %s: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("local volume %s is not a directory; the local provider snapshots directories only", dir)
	}
	return dir, nil
}

func checkSnapshotID(id string) error {
	if !snapshotIDPattern.MatchString(id) {
		return fmt.Errorf("%q is not a local snapshot ID (local-<32 hex digits>); was the backup taken with another provider?", id)
	}
	return nil
}

func newSnapshotID() (string, error) {
	h, err := randomHex(16)
	if err != nil {
		return "", err
	}
	return "local-" + h, nil
}

func randomHex(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generating a random ID: %w", err)
	}
	return hex.EncodeToString(buf), nil
}

// removeTree removes a partial restore, including read-only directories the
// archive created.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
