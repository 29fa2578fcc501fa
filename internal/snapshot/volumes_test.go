package snapshot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	arkv1 "github.com/heptio/ark/api/v1"
)

// recordingBlockStore is a BlockStore over hostPath paths that records the
// calls made to it.
type recordingBlockStore struct {
	calls      []string
	readyAfter int // IsVolumeReady answers true from this call on
	readyCalls int
	failCreate error
}

func (b *recordingBlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	id, _, _ := unstructured.NestedString(pv.Object, "spec", "hostPath", "path")
	return id, nil
}

func (b *recordingBlockStore) SetVolumeID(pv *unstructured.Unstructured, id string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	return out, unstructured.SetNestedField(out.Object, id, "spec", "hostPath", "path")
}

func (b *recordingBlockStore) GetVolumeInfo(_ context.Context, id, zone string) (string, *int64, error) {
	b.calls = append(b.calls, "info "+id+" "+zone)
	iops := int64(3000)
	return "gp3", &iops, nil
}

func (b *recordingBlockStore) CreateSnapshot(_ context.Context, id, zone string, tags map[string]string) (string, error) {
	b.calls = append(b.calls, "snapshot "+id+" "+zone+" backup="+tags["ark.heptio.com/backup"])
	return "snap-1", nil
}

func (b *recordingBlockStore) CreateVolumeFromSnapshot(_ context.Context, snap, typ, zone string, _ *int64) (string, error) {
	b.calls = append(b.calls, "create "+snap+" "+typ+" "+zone)
	if b.failCreate != nil {
		return "", b.failCreate
	}
	return "/volumes/new", nil
}

func (b *recordingBlockStore) IsVolumeReady(_ context.Context, id, _ string) (bool, error) {
	b.readyCalls++
	return b.readyCalls > b.readyAfter, nil
}

func (b *recordingBlockStore) DeleteSnapshot(context.Context, string) error { return nil }

func hostPathPV(name, path string, labels map[string]string) *unstructured.Unstructured {
	pv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"hostPath": map[string]any{"path": path}},
	}}
	pv.SetLabels(labels)
	return pv
}

func TestVolumeSnapshotterZoneAndInfo(t *testing.T) {
	store := &recordingBlockStore{}
	v := &VolumeSnapshotter{Store: store}
	pv := hostPathPV("pv-1", "/data", map[string]string{
		"failure-domain.beta.kubernetes.io/zone": "old-zone",
		"topology.kubernetes.io/zone":            "us-east-1a",
	})
	info, err := v.SnapshotVolume(context.Background(), pv, map[string]string{"ark.heptio.com/backup": "b1"})
	if err != nil {
		t.Fatal(err)
	}
	if info.SnapshotID != "snap-1" || info.Type != "gp3" || info.AvailabilityZone != "us-east-1a" || info.Iops == nil || *info.Iops != 3000 {
		t.Fatalf("info %+v", info)
	}
	if got := strings.Join(store.calls, "; "); got != "info /data us-east-1a; snapshot /data us-east-1a backup=b1" {
		t.Fatalf("calls: %s", got)
	}

	legacy := hostPathPV("pv-2", "/old", map[string]string{"failure-domain.beta.kubernetes.io/zone": "old-zone"})
	if info, _ := v.SnapshotVolume(context.Background(), legacy, nil); info.AvailabilityZone != "old-zone" {
		t.Fatalf("legacy zone label ignored: %+v", info)
	}
	unowned := hostPathPV("pv-3", "", nil)
	if info, err := v.SnapshotVolume(context.Background(), unowned, nil); info != nil || err != nil {
		t.Fatalf("a PV the provider does not own gave %+v, %v", info, err)
	}
}

func newTestRestorer(store *recordingBlockStore, existing ...runtime.Object) *VolumeRestorer {
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), existing...)
	return NewVolumeRestorer(store, 0, slog.New(slog.DiscardHandler), dyn)
}

func TestVolumeRestorerCreatesAndWaits(t *testing.T) {
	store := &recordingBlockStore{readyAfter: 1}
	v := newTestRestorer(store)
	pv := hostPathPV("pv-1", "/data", nil)
	got, err := v.RestoreVolume(context.Background(), pv, &arkv1.VolumeBackupInfo{SnapshotID: "snap-1", Type: "gp3", AvailabilityZone: "z"})
	if err != nil {
		t.Fatal(err)
	}
	if path, _, _ := unstructured.NestedString(got.Object, "spec", "hostPath", "path"); path != "/volumes/new" {
		t.Fatalf("restored PV points at %q", path)
	}
	if store.readyCalls != 2 {
		t.Fatalf("IsVolumeReady called %d times, want it polled until ready (2)", store.readyCalls)
	}
	if path, _, _ := unstructured.NestedString(pv.Object, "spec", "hostPath", "path"); path != "/data" {
		t.Fatalf("the PV from the backup was modified in place: %q", path)
	}
}

func TestVolumeRestorerLeavesExistingPVAlone(t *testing.T) {
	store := &recordingBlockStore{}
	v := newTestRestorer(store, hostPathPV("pv-1", "/live", nil))
	pv := hostPathPV("pv-1", "/data", nil)
	got, err := v.RestoreVolume(context.Background(), pv, &arkv1.VolumeBackupInfo{SnapshotID: "snap-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got != pv || len(store.calls) != 0 {
		t.Fatalf("an existing PV got a volume made for it: calls %v", store.calls)
	}
}

func TestVolumeRestorerErrors(t *testing.T) {
	store := &recordingBlockStore{failCreate: errors.New("quota exceeded")}
	v := newTestRestorer(store)
	_, err := v.RestoreVolume(context.Background(), hostPathPV("pv-1", "/data", nil), &arkv1.VolumeBackupInfo{SnapshotID: "snap-1"})
	if err == nil || !strings.Contains(err.Error(), "snapshot snap-1") || !strings.Contains(err.Error(), "quota exceeded") {
		t.Fatalf("err = %v", err)
	}

	never := &recordingBlockStore{readyAfter: 1 << 30}
	v = newTestRestorer(never)
	v.timeout = 1 // the first check already finds the volume not ready past the deadline
	_, err = v.RestoreVolume(context.Background(), hostPathPV("pv-1", "/data", nil), &arkv1.VolumeBackupInfo{SnapshotID: "snap-1"})
	if err == nil || !strings.Contains(err.Error(), "--volume-timeout") {
		t.Fatalf("err = %v, want the hint to raise --volume-timeout", err)
	}
}
