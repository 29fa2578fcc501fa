package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestHooksThroughTheNode runs backup and restore hooks for real: pods run
// on the local cluster's node, Ark execs into them through the API server's
// pods/exec, and what the hooks do is read from the volumes' directories,
// the volume snapshot in the bucket, the archive and the logs. One cluster,
// three operations:
//
//  1. A backup whose pod has annotation hooks: the pre hook writes a marker
//     into the pod's persistent volume and the post hook removes it, so the
//     snapshot holds the marker and the live volume does not; a spec hook
//     selecting every pod of the namespace runs only in the pod without
//     annotations (annotations take precedence).
//  2. A backup whose spec hooks fail: with onError Fail (the pod is left
//     out, its post hook still runs, the backup is PartiallyFailed with the
//     hook's stderr in the reason), with Continue, and one that hangs past
//     its timeout.
//  3. After the namespace and the volume are lost, a restore of backup 1
//     with an init hook and exec hooks whose effects are seen in the
//     restored pod's volume, and a restore exec hook from an annotation.
func TestHooksThroughTheNode(t *testing.T) {
	t.Parallel()
	controllers := append(slices.Clone(localcluster.DefaultControllers),
		"persistentvolume-binder-controller",
		"persistentvolume-protection-controller",
		"persistentvolumeclaim-protection-controller")
	start := time.Now()
	step := func(what string) {
		t.Logf("%s: %s since the test started", what, time.Since(start).Round(100*time.Millisecond))
	}
	cluster := localcluster.StartForTest(t, localcluster.Options{MinIO: true, Controllers: controllers, Workloads: true})
	step("cluster with its node ready")
	env := harness.Start(t, harness.Options{Cluster: cluster, NoConfig: true, NoServer: true})
	volumeRoot := filepath.Join(t.TempDir(), "restored-volumes")
	env.ApplyConfig(snapshotConfig(env, volumeRoot))
	env.StartServer()
	ctx := context.Background()
	step("ark built and its server started")

	// --- 1. Annotation and spec hooks around a snapshot. ---
	const ns, pvName = "hooks-app", "hooks-app-pv"
	pvDir := filepath.Join(t.TempDir(), "pv")
	webScratch := filepath.Join(t.TempDir(), "web-scratch")
	for _, d := range []string{pvDir, webScratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	snapshotWriteFile(t, filepath.Join(pvDir, "data.txt"), "application data\n")
	snapshotVolumeAndClaim(t, env, ns, "data", pvName, pvDir)
	hooksCreatePod(t, env, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app", Labels: map[string]string{"app": "hooked"},
			Annotations: map[string]string{
				"pre.hook.backup.ark.heptio.com/container":  "main",
				"pre.hook.backup.ark.heptio.com/command":    `["/bin/sh", "-c", "echo frozen-by-pre-hook > /data/marker; echo pre hook wrote the marker"]`,
				"post.hook.backup.ark.heptio.com/container": "main",
				"post.hook.backup.ark.heptio.com/command":   `["/bin/sh", "-c", "rm /data/marker && echo post hook removed the marker"]`,
			}},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
			Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
		},
	})
	hooksCreatePod(t, env, hooksScratchPod(ns, "web", map[string]string{"app": "web"}, webScratch, map[string]string{
		// A restore hook carried by the pod itself, for step 3.
		"post.hook.restore.ark.heptio.com/command": `["/bin/sh", "-c", "echo restored > /scratch/restore-annotation-ran"]`,
	}))

	step("pods of step 1 running")
	backup1 := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "hooks-snapshot"},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{ns},
			Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{
				Name:               "every-pod",
				IncludedNamespaces: []string{ns},
				IncludedResources:  []string{"pods"},
				// In pod app this would fail (it has no /scratch); its
				// annotations replace it there.
				Pre: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{
					Command: []string{"/bin/sh", "-c", "echo spec pre hook > /scratch/spec-pre-ran"},
				}}},
			}}},
		},
	}
	if err := env.Client.Create(ctx, backup1); err != nil {
		t.Fatal(err)
	}
	b1 := waitBackupPhase(env, backup1.Name, 3*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed)
	if b1.Status.Phase != arkv1.BackupPhaseCompleted || b1.Status.Warnings+b1.Status.Errors != 0 {
		t.Fatalf("backup %s: phase %s, problems %+v\nlog:\n%s", b1.Name, b1.Status.Phase, b1.Status.Problems, env.MustArk("backup", "logs", b1.Name))
	}
	if h := b1.Status.HookStatus; h == nil || h.HooksAttempted != 3 || h.HooksFailed != 0 {
		t.Errorf("backup %s hookStatus %+v, want 3 attempted (app's pre and post, web's spec pre), 0 failed", b1.Name, h)
	}
	// The snapshot holds the marker the pre hook wrote; the live volume no
	// longer does, since the post hook removed it.
	vb := b1.Status.VolumeBackups[pvName]
	if vb == nil {
		t.Fatalf("status.volumeBackups %v has no snapshot of %s", b1.Status.VolumeBackups, pvName)
	}
	snap := hooksTarFiles(t, snapshotGetObject(t, env, snapshotPrefix+vb.SnapshotID+".tar.gz"))
	if got := snap["marker"]; got != "frozen-by-pre-hook\n" {
		t.Errorf("snapshot %s: marker = %q, want the pre hook's (files %v)", vb.SnapshotID, got, snapshotSortedKeys(snap))
	}
	if snap["data.txt"] != "application data\n" {
		t.Errorf("snapshot %s lacks the volume's data: %v", vb.SnapshotID, snapshotSortedKeys(snap))
	}
	if _, err := os.Stat(filepath.Join(pvDir, "marker")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the live volume still has the marker (stat: %v): the post hook did not run", err)
	}
	if data, err := os.ReadFile(filepath.Join(webScratch, "spec-pre-ran")); err != nil || string(data) != "spec pre hook\n" {
		t.Errorf("the spec hook did not run in pod web: %q, %v", data, err)
	}
	// The log: both hooks of app in order around the snapshot, with their
	// output; the spec hook in web only.
	log1 := env.MustArk("backup", "logs", b1.Name)
	pre := hooksLogLine(t, log1, "hook succeeded", "phase=pre", "pod="+ns+"/app")
	snapLine := hooksLogLine(t, log1, "volume snapshotted", vb.SnapshotID)
	post := hooksLogLine(t, log1, "hook succeeded", "phase=post", "pod="+ns+"/app")
	if !(pre < snapLine && snapLine < post) {
		t.Errorf("backup log: pre hook at %d, snapshot at %d, post hook at %d; want them in that order:\n%s", pre, snapLine, post, log1)
	}
	snapshotRequireOutput(t, "backup log", log1, "pre hook wrote the marker", "post hook removed the marker",
		`annotations pre.hook.backup.ark.heptio.com/*`, `annotations post.hook.backup.ark.heptio.com/*`)
	hooksLogLine(t, log1, "hook succeeded", `spec hook \"every-pod\"`, "pod="+ns+"/web")
	for _, line := range strings.Split(log1, "\n") {
		if strings.Contains(line, "every-pod") && strings.Contains(line, "pod="+ns+"/app") {
			t.Errorf("the spec hook ran in pod app, whose annotations should replace it: %s", line)
		}
	}
	snapshotRequireOutput(t, "backup describe", env.MustArk("backup", "describe", b1.Name),
		"Hooks:           every-pod", "Hooks run: 3, failed: 0")

	step("backup with annotation and spec hooks checked")
	// --- 2. Failing hooks: Fail, Continue, and past a timeout. ---
	const failNS = "hooks-fail"
	fragileScratch, slowScratch := filepath.Join(t.TempDir(), "fragile"), filepath.Join(t.TempDir(), "slow")
	env.EnsureNamespace(failNS)
	hooksCreatePod(t, env, hooksScratchPod(failNS, "fragile", map[string]string{"role": "fragile"}, fragileScratch, nil))
	hooksCreatePod(t, env, hooksScratchPod(failNS, "slow", map[string]string{"role": "slow"}, slowScratch, nil))
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	backup2 := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "hooks-failing"},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{failNS},
			Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
				{
					Name:          "freeze-fragile",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "fragile"}},
					Pre: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{
						Command: sh("echo cannot freeze the database >&2; exit 3"), OnError: arkv1.HookErrorModeFail}}},
					Post: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: sh("echo thawed > /scratch/post-ran")}}},
				},
				{
					Name:          "slow",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "slow"}},
					Pre: []arkv1.BackupResourceHook{
						{Exec: &arkv1.ExecHook{Command: sh("echo not fatal >&2; exit 1"), OnError: arkv1.HookErrorModeContinue}},
						{Exec: &arkv1.ExecHook{Command: []string{"sleep", "60"}, OnError: arkv1.HookErrorModeContinue,
							Timeout: metav1.Duration{Duration: 2 * time.Second}}},
						{Exec: &arkv1.ExecHook{Command: sh("echo ran > /scratch/after-hang")}},
					},
				},
			}},
		},
	}
	if err := env.Client.Create(ctx, backup2); err != nil {
		t.Fatal(err)
	}
	b2 := waitBackupPhase(env, backup2.Name, 3*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed)
	if b2.Status.Phase != arkv1.BackupPhasePartiallyFailed || b2.Status.Errors != 1 || b2.Status.Warnings != 2 {
		t.Fatalf("backup %s: phase %s, %d errors, %d warnings; want PartiallyFailed, 1 error (Fail), 2 warnings (Continue, timeout): %+v",
			b2.Name, b2.Status.Phase, b2.Status.Errors, b2.Status.Warnings, b2.Status.Problems)
	}
	if h := b2.Status.HookStatus; h == nil || h.HooksAttempted != 5 || h.HooksFailed != 3 {
		t.Errorf("backup %s hookStatus %+v, want 5 attempted, 3 failed", b2.Name, h)
	}
	problems := map[string]string{}
	for _, p := range b2.Status.Problems {
		problems[p.Severity+" "+p.Name] += p.Message + "\n"
	}
	snapshotRequireOutput(t, "error of pod fragile", problems["error fragile"],
		`spec hook "freeze-fragile" (pre 1)`, "exited with code 3", "cannot freeze the database", "onError Fail", "not backed up")
	snapshotRequireOutput(t, "warnings of pod slow", problems["warning slow"],
		"exited with code 1", "not fatal", "did not finish within its timeout of 2s", "onError Continue")
	entries := tarEntries(t, restoreDownload(t, env, b2.Name))
	if _, ok := entries["resources/pods/namespaces/"+failNS+"/fragile.json"]; ok {
		t.Errorf("pod fragile is in the archive although its Fail pre hook failed")
	}
	if _, ok := entries["resources/pods/namespaces/"+failNS+"/slow.json"]; !ok {
		t.Errorf("pod slow is not in the archive although its hooks only failed with Continue; entries %v", snapshotSortedKeys(entries))
	}
	for _, f := range []string{filepath.Join(fragileScratch, "post-ran"), filepath.Join(slowScratch, "after-hang")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a hook that should have run left no %s: %v", f, err)
		}
	}
	snapshotRequireOutput(t, "backup describe", env.MustArk("backup", "describe", b2.Name),
		"Phase:  PartiallyFailed", "Hooks run: 5, failed: 3", "cannot freeze the database")
	log2 := env.MustArk("backup", "logs", b2.Name)
	hooksLogLine(t, log2, "hook failed", "phase=pre", "pod="+failNS+"/slow", "did not finish within its timeout of 2s")
	hooksLogLine(t, log2, "hook succeeded", "phase=post", "pod="+failNS+"/fragile")

	step("backup with failing hooks checked")
	// --- 3. Restore hooks in the restored pods. ---
	snapshotDisaster(t, env, ns, pvName)
	step("namespace and volume deleted")
	initJSON, err := json.Marshal(corev1.Container{
		Name: "restore-data", Image: "busybox",
		Command:      sh("echo written by the init container > /data/init-ran"),
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	restore := &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "hooks-restore"},
		Spec: arkv1.RestoreSpec{
			BackupName: backup1.Name,
			Hooks: arkv1.RestoreHooks{Resources: []arkv1.RestoreResourceHookSpec{{
				Name:          "seed-and-check",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hooked"}},
				PostHooks: []arkv1.RestoreResourceHook{
					{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: initJSON}}}},
					{Exec: &arkv1.ExecRestoreHook{Container: "main", OnError: arkv1.HookErrorModeFail,
						Command:     sh("cat /data/marker /data/init-ran > /data/exec-saw; echo exec hook ran"),
						WaitTimeout: metav1.Duration{Duration: 2 * time.Minute}, ExecTimeout: metav1.Duration{Duration: 30 * time.Second}}},
					{Exec: &arkv1.ExecRestoreHook{Command: sh("echo a failing restore hook >&2; exit 4"), OnError: arkv1.HookErrorModeContinue}},
				},
			}}},
		},
	}
	if err := env.Client.Create(ctx, restore); err != nil {
		t.Fatal(err)
	}
	var rs arkv1.Restore
	env.Eventually(4*time.Minute, "restore "+restore.Name+" to end", func() (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(restore), &rs); err != nil {
			return false, err
		}
		switch rs.Status.Phase {
		case arkv1.RestorePhaseCompleted, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailed, arkv1.RestorePhaseFailedValidation:
			return true, nil
		}
		return false, errors.New("phase " + string(rs.Status.Phase))
	})
	restoreLog := env.MustArk("restore", "logs", restore.Name)
	// Three warnings: the Continue hook's, and the namespace's default
	// ServiceAccount and kube-root-ca.crt, which the cluster made before
	// Ark could restore them.
	if rs.Status.Phase != arkv1.RestorePhaseCompleted || rs.Status.Errors != 0 || rs.Status.Warnings != 3 {
		t.Fatalf("restore %s: phase %s, %d errors, %d warnings; want Completed with 3 warnings (the Continue hook, default and kube-root-ca.crt existing): %+v\nlog:\n%s",
			rs.Name, rs.Status.Phase, rs.Status.Errors, rs.Status.Warnings, snapshotRestoreResults(t, env, backup1.Name, rs.Name), restoreLog)
	}
	if h := rs.Status.HookStatus; h == nil || h.HooksAttempted != 3 || h.HooksFailed != 1 {
		t.Errorf("restore %s hookStatus %+v, want 3 attempted (2 of the spec in app, 1 annotation in web), 1 failed", rs.Name, h)
	}
	_, newPV := snapshotWaitBound(t, env, ns, "data", pvName)
	if newPV.Spec.HostPath == nil {
		t.Fatalf("restored PV has no hostPath: %+v", newPV.Spec.PersistentVolumeSource)
	}
	newDir := newPV.Spec.HostPath.Path
	if data, err := os.ReadFile(filepath.Join(newDir, "exec-saw")); err != nil ||
		string(data) != "frozen-by-pre-hook\nwritten by the init container\n" {
		t.Errorf("the exec hook saw %q (%v); want the marker restored from the snapshot, then the init container's file", data, err)
	}
	var restoredPod corev1.Pod
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &restoredPod); err != nil {
		t.Fatal(err)
	}
	if ic := restoredPod.Spec.InitContainers; len(ic) != 1 || ic[0].Name != "restore-data" {
		t.Errorf("restored pod's init containers %+v, want restore-data", ic)
	}
	if data, err := os.ReadFile(filepath.Join(webScratch, "restore-annotation-ran")); err != nil || string(data) != "restored\n" {
		t.Errorf("the annotation's restore hook did not run in pod web: %q, %v", data, err)
	}
	var hookWarnings []string
	for _, w := range snapshotRestoreResults(t, env, backup1.Name, rs.Name)["warnings"].Namespaces[ns] {
		if strings.Contains(w, "hook (") { // "restore exec hook (spec hook ...", not the namespace hooks-app
			hookWarnings = append(hookWarnings, w)
		}
	}
	if len(hookWarnings) != 1 || !strings.Contains(hookWarnings[0], `spec hook "seed-and-check" (exec 2)`) ||
		!strings.Contains(hookWarnings[0], "exited with code 4") || !strings.Contains(hookWarnings[0], "onError Continue") {
		t.Errorf("restore warnings about hooks: %q, want the one of the failing Continue hook", hookWarnings)
	}
	snapshotRequireOutput(t, "restore log", restoreLog, "exec hook ran", "a failing restore hook", "exited with code 4")
	snapshotRequireOutput(t, "restore describe", env.MustArk("restore", "describe", rs.Name),
		"Hooks:      seed-and-check", "Hooks run:  3, failed: 1")
	step("restore with hooks checked")
}

// hooksScratchPod is a pod of one idle container with a hostPath volume at
// /scratch over dir, where hooks leave files the test reads.
func hooksScratchPod(ns, name string, labels map[string]string, dir string, annotations map[string]string) *corev1.Pod {
	create := corev1.HostPathDirectoryOrCreate
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &create}}}},
			Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}}},
		},
	}
}

// hooksCreatePod creates a pod and waits until the node runs it.
func hooksCreatePod(t *testing.T, env *harness.Env, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	// Retried: a new namespace has no default ServiceAccount for a moment,
	// and the API server refuses pods until it has.
	env.Eventually(time.Minute, "pod "+pod.Namespace+"/"+pod.Name+" created", func() (bool, error) {
		err := env.Client.Create(ctx, pod.DeepCopy())
		return err == nil || apierrors.IsAlreadyExists(err), err
	})
	env.Eventually(2*time.Minute, "pod "+pod.Namespace+"/"+pod.Name+" Running", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)
		return err == nil && pod.Status.Phase == corev1.PodRunning, err
	})
}

// hooksTarFiles reads a gzipped tar into name -> content of its regular
// files, names relative to the tar's root.
func hooksTarFiles(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(filepath.Clean(h.Name), "./")] = string(b)
	}
}

// hooksLogLine returns the index of the first line of log holding every one
// of wants, failing the test when there is none.
func hooksLogLine(t *testing.T, log string, wants ...string) int {
	t.Helper()
	for i, line := range strings.Split(log, "\n") {
		ok := true
		for _, w := range wants {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			return i
		}
	}
	t.Errorf("log has no line with all of %q:\n%s", wants, log)
	return -1
}
