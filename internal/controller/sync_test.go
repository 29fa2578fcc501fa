package controller

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
)

func TestSyncCreatesMissingBackupsButNeverDeletedOnes(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	stored := func(name string) *arkv1.Backup {
		b := finishedBackup(name, arkv1.BackupPhaseCompleted)
		b.CreationTimestamp = metav1.NewTime(created)
		b.Status.Archive = &arkv1.ArchiveInfo{SHA256: "abc", Size: 42}
		return b
	}
	present := stored("present")
	present.Finalizers = []string{arkv1.LegacyGCFinalizer}
	deleting := deletionRequest("deleting-1", "deleting", created.Add(time.Hour))
	// A request made before the stored backup was created is about an
	// earlier backup of the same name.
	stale := deletionRequest("recreated-1", "recreated", created.Add(-time.Hour))
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(present, deleting, stale).
		WithStatusSubresource(&arkv1.Backup{}).Build()

	mem := memstore.New("ark")
	store := backupstore.New(mem, "ark", backupstore.Options{})
	for _, name := range []string{"lost", "present", "deleting", "recreated", "half-deleted"} {
		storeBackup(t, store, stored(name))
	}
	if err := mem.DeleteObject(ctx, "ark", "half-deleted/half-deleted.tar.gz"); err != nil {
		t.Fatal(err)
	}

	s := &BackupSyncer{Client: c, Namespace: "heptio-ark", Log: discardLog()}
	synced := s.Sync(ctx, &settings.Environment{Config: &arkv1.Config{}, Store: store})
	sort.Strings(synced)
	if !slices.Equal(synced, []string{"lost", "recreated"}) {
		t.Fatalf("synced %v, want [lost recreated]", synced)
	}
	for _, name := range synced {
		var b arkv1.Backup
		if err := c.Get(ctx, client.ObjectKey{Namespace: "heptio-ark", Name: name}, &b); err != nil {
			t.Fatal(err)
		}
		if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Archive == nil || b.Status.Archive.SHA256 != "abc" {
			t.Errorf("synced backup %s lacks its stored status: %+v", name, b.Status)
		}
	}
	for _, name := range []string{"deleting", "half-deleted"} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "heptio-ark", Name: name}, &arkv1.Backup{}); !apierrors.IsNotFound(err) {
			t.Errorf("backup %s was brought back: %v", name, err)
		}
	}
	var p arkv1.Backup
	if err := c.Get(ctx, client.ObjectKeyFromObject(present), &p); err != nil || len(p.Finalizers) != 0 {
		t.Errorf("legacy finalizer not removed: %v %v", err, p.Finalizers)
	}

	// A second pass has nothing to do.
	if again := s.Sync(ctx, &settings.Environment{Config: &arkv1.Config{}, Store: store}); len(again) != 0 {
		t.Errorf("second sync created %v", again)
	}
}
