package main

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/plugin"
)

// memoryBlocks is a block store in memory for the PVs whose CSI driver is
// test.ark.heptio.com: a snapshot remembers its volume; a volume created
// from one is ready at the second look.
type memoryBlocks struct {
	mu        sync.Mutex
	next      int
	snapshots map[string]string
	looked    map[string]bool
}

const testDriver = "test.ark.heptio.com"

func newMemoryBlocks(map[string]string) (plugin.BlockStore, error) {
	return &memoryBlocks{snapshots: map[string]string{}, looked: map[string]bool{}}, nil
}

func (m *memoryBlocks) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	if driver, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver"); driver != testDriver {
		return "", nil
	}
	id, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
	return id, nil
}

func (m *memoryBlocks) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	out := pv.DeepCopy()
	if err := unstructured.SetNestedField(out.Object, volumeID, "spec", "csi", "volumeHandle"); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *memoryBlocks) GetVolumeInfo(context.Context, string, string) (string, *int64, error) {
	iops := int64(100)
	return "fast", &iops, nil
}

func (m *memoryBlocks) CreateSnapshot(_ context.Context, volumeID, _ string, _ map[string]string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	id := fmt.Sprintf("snap-%d", m.next)
	m.snapshots[id] = volumeID
	return id, nil
}

func (m *memoryBlocks) CreateVolumeFromSnapshot(_ context.Context, snapshotID, volumeType, _ string, iops *int64) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.snapshots[snapshotID]; !ok {
		return "", fmt.Errorf("snapshot %s: %w", snapshotID, plugin.ErrVolumeNotFound)
	}
	if volumeType != "fast" || iops == nil || *iops != 100 {
		return "", fmt.Errorf("volume type %q and IOPS %v are not what GetVolumeInfo said", volumeType, iops)
	}
	m.next++
	return fmt.Sprintf("vol-%d", m.next), nil
}

func (m *memoryBlocks) IsVolumeReady(_ context.Context, volumeID, _ string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ready := m.looked[volumeID]
	m.looked[volumeID] = true
	return ready, nil
}

func (m *memoryBlocks) DeleteSnapshot(_ context.Context, snapshotID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.snapshots, snapshotID)
	return nil
}
