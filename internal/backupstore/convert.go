package backupstore

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
)

// veleroBackup is the part of a velero.io/v1 Backup (Velero's
// velero-backup.json) that has a meaning for Ark. Velero's JSON names are
// those of Heptio Ark's Backup, from which it grew; fields not listed here
// (storage and snapshot locations, file-system backup defaults, resource
// policies, timeouts, item operation counts but the attempted one) have no
// Ark equivalent and are dropped.
type veleroBackup struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		IncludedNamespaces []string `json:"includedNamespaces"`
		ExcludedNamespaces []string `json:"excludedNamespaces"`
		IncludedResources  []string `json:"includedResources"`
		ExcludedResources  []string `json:"excludedResources"`
		// The scoped resource filters of Velero 1.11 and later.
		IncludedClusterScopedResources   []string                `json:"includedClusterScopedResources"`
		ExcludedClusterScopedResources   []string                `json:"excludedClusterScopedResources"`
		IncludedNamespaceScopedResources []string                `json:"includedNamespaceScopedResources"`
		ExcludedNamespaceScopedResources []string                `json:"excludedNamespaceScopedResources"`
		LabelSelector                    *metav1.LabelSelector   `json:"labelSelector"`
		OrLabelSelectors                 []*metav1.LabelSelector `json:"orLabelSelectors"`
		SnapshotVolumes                  *bool                   `json:"snapshotVolumes"`
		TTL                              metav1.Duration         `json:"ttl"`
		IncludeClusterResources          *bool                   `json:"includeClusterResources"`
		// Velero's hooks have the shape of Heptio Ark's: name, filters,
		// pre and post exec hooks.
		Hooks arkv1.BackupHooks `json:"hooks"`
	} `json:"spec"`
	Status struct {
		Version                       int          `json:"version"`
		FormatVersion                 string       `json:"formatVersion"`
		Expiration                    *metav1.Time `json:"expiration"`
		Phase                         string       `json:"phase"`
		ValidationErrors              []string     `json:"validationErrors"`
		StartTimestamp                *metav1.Time `json:"startTimestamp"`
		CompletionTimestamp           *metav1.Time `json:"completionTimestamp"`
		FailureReason                 string       `json:"failureReason"`
		Warnings                      int          `json:"warnings"`
		Errors                        int          `json:"errors"`
		CSIVolumeSnapshotsAttempted   int          `json:"csiVolumeSnapshotsAttempted"`
		BackupItemOperationsAttempted int          `json:"backupItemOperationsAttempted"`
		Progress                      *struct {
			TotalItems    int `json:"totalItems"`
			ItemsBackedUp int `json:"itemsBackedUp"`
		} `json:"progress"`
	} `json:"status"`
}

// veleroGroupVersion is the API of Velero's Backup.
const veleroGroupVersion = "velero.io/v1"

// convertVeleroBackup reads a velero-backup.json into an ark.heptio.com/v1
// Backup, with notes on what of it Ark does not restore.
func convertVeleroBackup(data []byte) (*arkv1.Backup, []string, error) {
	var v veleroBackup
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, nil, err
	}
	if v.APIVersion != veleroGroupVersion || v.Kind != "Backup" {
		return nil, nil, fmt.Errorf("it is a %q %q, not a %s Backup", v.APIVersion, v.Kind, veleroGroupVersion)
	}
	b := &arkv1.Backup{
		TypeMeta: metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        v.Metadata.Name,
			Labels:      v.Metadata.Labels,
			Annotations: v.Metadata.Annotations,
		},
	}
	vs, st := v.Spec, v.Status
	b.Spec = arkv1.BackupSpec{
		IncludedNamespaces:      vs.IncludedNamespaces,
		ExcludedNamespaces:      vs.ExcludedNamespaces,
		IncludedResources:       vs.IncludedResources,
		ExcludedResources:       vs.ExcludedResources,
		LabelSelector:           vs.LabelSelector,
		SnapshotVolumes:         vs.SnapshotVolumes,
		TTL:                     vs.TTL,
		IncludeClusterResources: vs.IncludeClusterResources,
		Hooks:                   vs.Hooks,
	}
	// Velero's scoped filters name resources of one scope each, so together
	// they are the resource lists; "*" among the cluster-scoped ones is what
	// includeClusterResources says.
	b.Spec.IncludedResources = append(b.Spec.IncludedResources, vs.IncludedNamespaceScopedResources...)
	b.Spec.ExcludedResources = append(b.Spec.ExcludedResources, vs.ExcludedNamespaceScopedResources...)
	for _, r := range vs.IncludedClusterScopedResources {
		if r == "*" {
			b.Spec.IncludeClusterResources = ptrTo(true)
			continue
		}
		b.Spec.IncludedResources = append(b.Spec.IncludedResources, r)
	}
	for _, r := range vs.ExcludedClusterScopedResources {
		if r == "*" {
			b.Spec.IncludeClusterResources = ptrTo(false)
			continue
		}
		b.Spec.ExcludedResources = append(b.Spec.ExcludedResources, r)
	}
	if b.Spec.LabelSelector == nil && len(vs.OrLabelSelectors) == 1 {
		b.Spec.LabelSelector = vs.OrLabelSelectors[0]
	}

	phase, err := veleroPhase(st.Phase)
	if err != nil {
		return nil, nil, err
	}
	b.Status = arkv1.BackupStatus{
		Phase:               phase,
		Expiration:          st.Expiration,
		ValidationErrors:    st.ValidationErrors,
		StartTimestamp:      st.StartTimestamp,
		CompletionTimestamp: st.CompletionTimestamp,
		FailureReason:       st.FailureReason,
		Warnings:            st.Warnings,
		Errors:              st.Errors,
	}
	// The archive format: Velero's "1.x.y" is format 1 to this reader.
	if st.Version == 1 || strings.HasPrefix(st.FormatVersion, "1.") {
		b.Status.Version = 1
	}
	if p := st.Progress; p != nil {
		b.Status.Progress = &arkv1.BackupProgress{TotalItems: p.TotalItems, ItemsBackedUp: p.ItemsBackedUp}
	}

	var notes []string
	if n := st.CSIVolumeSnapshotsAttempted; n > 0 {
		notes = append(notes, fmt.Sprintf("Velero took %d CSI volume snapshot(s): Ark does not restore volumes from CSI snapshots, so the PersistentVolumeClaims they belong to are restored without that data (restore those volumes with Velero first; see docs/migrating.md)", n))
	}
	if n := st.BackupItemOperationsAttempted; n > 0 && st.CSIVolumeSnapshotsAttempted == 0 {
		notes = append(notes, fmt.Sprintf("Velero ran %d asynchronous plugin operation(s) (data movement and the like): Ark restores none of their results (see docs/migrating.md)", n))
	}
	if len(vs.OrLabelSelectors) > 1 {
		sels := make([]string, 0, len(vs.OrLabelSelectors))
		for _, s := range vs.OrLabelSelectors {
			if sel, err := metav1.LabelSelectorAsSelector(s); err == nil {
				sels = append(sels, sel.String())
			}
		}
		// Not a restore problem: the archive holds what matched. Kept as an
		// annotation so describe can still say what was backed up.
		if b.Annotations == nil {
			b.Annotations = map[string]string{}
		}
		b.Annotations[arkv1.VeleroOrLabelSelectorsAnnotation] = strings.Join(sels, " OR ")
	}
	return b, notes, nil
}

func ptrTo[T any](v T) *T { return &v }

// veleroPhase maps a Velero phase to Ark's. A backup Velero has not finished
// is not a backup yet: Velero uploads its metadata again when it finishes.
func veleroPhase(p string) (arkv1.BackupPhase, error) {
	switch p {
	case "Completed", "PartiallyFailed", "Failed", "FailedValidation":
		return arkv1.BackupPhase(p), nil
	}
	return "", notFinished(p)
}

func notFinished(phase string) error {
	switch phase {
	case "":
		phase = "New"
	case "Deleting":
		return fmt.Errorf("the backup is Deleting: the tool that wrote it is deleting it, so Ark does not take it")
	}
	return fmt.Errorf("the backup is %s: the tool that wrote it has not finished it, so Ark does not take it; it is synced once its metadata says Completed, PartiallyFailed, Failed or FailedValidation", phase)
}

// checkFinished refuses another tool's backup that is not finished (Heptio
// Ark v0.10's ark-backup.json is decoded as it is).
func checkFinished(b *arkv1.Backup) error {
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed, arkv1.BackupPhaseFailedValidation:
		return nil
	}
	return notFinished(string(b.Status.Phase))
}

// Bounds on the volume records read beside another tool's metadata.
const (
	maxVolumeRecordsSize = 64 << 20
	maxPodVolumeBackups  = 1_000_000
)

// veleroVolumeSnapshot is one entry of <backup>-volumesnapshots.json.gz, a
// native snapshot taken through a VolumeSnapshotLocation. Heptio Ark v0.10
// wrote the PV's name under "PersistentVolumeName" (a broken struct tag),
// which encoding/json matches case-insensitively all the same.
type veleroVolumeSnapshot struct {
	Spec struct {
		Location             string `json:"location"`
		PersistentVolumeName string `json:"persistentVolumeName"`
		VolumeType           string `json:"volumeType"`
		VolumeAZ             string `json:"volumeAZ"`
		VolumeIOPS           *int64 `json:"volumeIOPS"`
	} `json:"spec"`
	Status struct {
		ProviderSnapshotID string `json:"providerSnapshotID"`
		Phase              string `json:"phase"`
	} `json:"status"`
}

// readVolumeRecords reads the volume files Heptio Ark v0.10 and Velero keep
// beside their metadata: native snapshots become status.volumeBackups (the
// PV's name to its snapshot), as Ark records its own; file-system volume
// backups, whose data Ark cannot restore, become notes.
func (s *Store) readVolumeRecords(ctx context.Context, l Layout, b *arkv1.Backup) ([]string, error) {
	var notes []string
	var snaps []veleroVolumeSnapshot
	key := l.volumeSnapshotsKey(b.Name)
	err := s.readGzipJSON(ctx, key, func(dec *json.Decoder) error { return dec.Decode(&snaps) })
	if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return nil, err
	}
	var failed []string
	for _, sn := range snaps {
		pv := sn.Spec.PersistentVolumeName
		if pv == "" {
			continue
		}
		if sn.Status.Phase != "Completed" || sn.Status.ProviderSnapshotID == "" {
			failed = append(failed, pv)
			continue
		}
		if b.Status.VolumeBackups == nil {
			b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{}
		}
		b.Status.VolumeBackups[pv] = &arkv1.VolumeBackupInfo{SnapshotID: sn.Status.ProviderSnapshotID,
			Type: sn.Spec.VolumeType, AvailabilityZone: sn.Spec.VolumeAZ, Iops: sn.Spec.VolumeIOPS}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		failed = slices.Compact(failed)
		notes = append(notes, fmt.Sprintf("%s recorded no usable snapshot of volume(s) %s (the snapshot failed or never completed): their PersistentVolumes are restored without data", l.WrittenBy, strings.Join(failed, ", ")))
	}

	count := 0
	key = l.podVolumeBackupsKey(b.Name)
	err = s.readGzipJSON(ctx, key, func(dec *json.Decoder) error {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return fmt.Errorf("not a JSON list (%v)", err)
		}
		for dec.More() {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			if count++; count > maxPodVolumeBackups {
				return fmt.Errorf("more than %d entries", maxPodVolumeBackups)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return nil, err
	}
	if count > 0 {
		notes = append(notes, fmt.Sprintf("%s backed up %d pod volume(s) with its file-system backup (restic or kopia): Ark does not restore that data, so those volumes are restored empty (restore them with %s first; see docs/migrating.md)", l.WrittenBy, count, l.WrittenBy))
	}
	return notes, nil
}

// readGzipJSON decodes a gzipped JSON object of at most
// maxVolumeRecordsSize bytes, decompressed.
func (s *Store) readGzipJSON(ctx context.Context, key string, decode func(*json.Decoder) error) error {
	rc, err := s.objects.GetObject(ctx, s.bucket, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return fmt.Errorf("%s is not gzip data: %w", key, err)
	}
	defer zr.Close()
	limited := &io.LimitedReader{R: zr, N: maxVolumeRecordsSize + 1}
	if err := decode(json.NewDecoder(limited)); err != nil {
		if limited.N <= 0 {
			return fmt.Errorf("%s is larger than %d bytes uncompressed", key, maxVolumeRecordsSize)
		}
		return fmt.Errorf("%s is not valid: %w", key, err)
	}
	return nil
}
