package controller

import (
	"bytes"
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/restoreplan"
)

func (e *reconcilerEnv) newRestore(t *testing.T, name string, spec arkv1.RestoreSpec) {
	t.Helper()
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: spec}
	if err := e.client.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func (e *reconcilerEnv) reconcileRestore(t *testing.T, name string) {
	t.Helper()
	if _, err := e.restoreReconciler().Reconcile(context.Background(), e.key(name)); err != nil {
		t.Fatalf("reconcile restore %s: %v", name, err)
	}
}

// A restore with a namespace mapping runs to Completed while its progress is
// written into the same Restore: run with -race, this is the test of the
// engine having its own copy (the mapping is a map the status decode used to
// rewrite under it).
func TestRestoreReconcilerMapsNamespacesWithProgress(t *testing.T) {
	fastProgress(t)
	e := newReconcilerEnv(t)
	src, dst := e.namespace+"-src", e.namespace+"-dst"
	e.createNamespace(t, src)
	e.configMaps(t, src, 150)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	e.reconcileBackup(t, "b1")
	if b := e.getBackup(t, "b1"); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup %s: %s", b.Status.Phase, b.Status.FailureReason)
	}

	e.newRestore(t, "r1", arkv1.RestoreSpec{BackupName: "b1", NamespaceMapping: map[string]string{src: dst},
		IncludedResources: []string{"configmaps"}})
	e.reconcileRestore(t, "r1")
	r := e.getRestore(t, "r1")
	if r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore %s (%s), warnings %d errors %d", r.Status.Phase, r.Status.FailureReason, r.Status.Warnings, r.Status.Errors)
	}
	var cms corev1.ConfigMapList
	if err := e.client.List(context.Background(), &cms, client.InNamespace(dst), client.MatchingLabels{arkv1.RestoreNameLabel: "r1"}); err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != 150 {
		t.Fatalf("%d ConfigMaps restored into %s, want 150", len(cms.Items), dst)
	}
	if keys := e.bucket.Keys("ark", "b1/restore-r1-"); strings.Join(keys, ",") != "b1/restore-r1-logs.gz,b1/restore-r1-results.gz" {
		t.Errorf("restore files in the bucket: %v", keys)
	}
}

func TestRestoreReconcilerFailureBranches(t *testing.T) {
	e := newReconcilerEnv(t)
	e.newBackup(t, "done", arkv1.BackupSpec{IncludedNamespaces: []string{"default"}})
	e.reconcileBackup(t, "done")

	cases := []struct {
		name  string
		setup func(t *testing.T)
		spec  arkv1.RestoreSpec
		phase arkv1.RestorePhase
		want  []string
	}{
		{name: "no backup name", phase: arkv1.RestorePhaseFailedValidation,
			want: []string{"backupName is empty"}},
		{name: "unknown backup", spec: arkv1.RestoreSpec{BackupName: "nope"}, phase: arkv1.RestorePhaseFailedValidation,
			want: []string{`backup "nope" not found`, "ark backup get"}},
		{name: "unfinished backup", phase: arkv1.RestorePhaseFailedValidation,
			setup: func(t *testing.T) { e.newBackup(t, "unfinished", arkv1.BackupSpec{}) },
			spec:  arkv1.RestoreSpec{BackupName: "unfinished"},
			want:  []string{`backup "unfinished" is New`}},
		{name: "bad mapping and lists", phase: arkv1.RestorePhaseFailedValidation,
			spec: arkv1.RestoreSpec{BackupName: "done", NamespaceMapping: map[string]string{"a": "B_b"},
				IncludedNamespaces: []string{"x"}, ExcludedNamespaces: []string{"x"}},
			want: []string{`"B_b" is not a valid namespace name`, `namespace "x" is both included and excluded`}},
		{name: "archive gone from the bucket", phase: arkv1.RestorePhaseFailed,
			setup: func(t *testing.T) {
				if err := e.bucket.DeleteObject(context.Background(), "ark", "done/done.tar.gz"); err != nil {
					t.Fatal(err)
				}
			},
			spec: arkv1.RestoreSpec{BackupName: "done"},
			want: []string{`opening the archive of backup "done"`}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup(t)
			}
			name := "r" + string(rune('a'+i))
			e.newRestore(t, name, c.spec)
			e.reconcileRestore(t, name)
			r := e.getRestore(t, name)
			msg := r.Status.FailureReason + strings.Join(r.Status.ValidationErrors, "\n")
			if r.Status.Phase != c.phase {
				t.Fatalf("phase %s (%s), want %s", r.Status.Phase, msg, c.phase)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("status says %q, want %q in it", msg, w)
				}
			}
		})
	}
}

// A dry-run restore ends Previewed with its plan counted in the status and
// stored, item by item, beside its results; it creates nothing.
func TestRestoreReconcilerDryRun(t *testing.T) {
	e := newReconcilerEnv(t)
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 5)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}, IncludedResources: []string{"configmaps"}})
	e.reconcileBackup(t, "b1")
	for _, name := range []string{"cm-000", "cm-001"} {
		if err := e.client.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	e.newRestore(t, "preview", arkv1.RestoreSpec{BackupName: "b1", DryRun: true})
	e.reconcileRestore(t, "preview")
	r := e.getRestore(t, "preview")
	// Three ConfigMaps and their namespace exist as backed up.
	want := arkv1.RestorePlanSummary{WouldCreate: 2, Identical: 4}
	if r.Status.Phase != arkv1.RestorePhasePreviewed || r.Status.Plan == nil || *r.Status.Plan != want {
		t.Fatalf("restore %s (%s), plan %+v, want %+v", r.Status.Phase, r.Status.FailureReason, r.Status.Plan, want)
	}
	var cms corev1.ConfigMapList
	if err := e.client.List(context.Background(), &cms, client.InNamespace(src)); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Name == "cm-000" || cm.Name == "cm-001" || cm.Labels[arkv1.RestoreNameLabel] != "" {
			t.Errorf("a dry run created or changed %s", cm.Name)
		}
	}
	if keys := e.bucket.Keys("ark", "b1/restore-preview-"); strings.Join(keys, ",") != "b1/restore-preview-logs.gz,b1/restore-preview-plan.gz,b1/restore-preview-results.gz" {
		t.Fatalf("bucket holds %v", keys)
	}
	plan, err := restoreplan.Read(bytes.NewReader(e.readObject(t, "b1/restore-preview-plan.gz")))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Items) != 6 || plan.Counts != want {
		t.Errorf("stored plan: %d items, %+v", len(plan.Items), plan.Summary)
	}
}
