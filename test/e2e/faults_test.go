package e2e

// The fault suite: the real server killed mid-work, and two clusters writing
// backups of the same names into one bucket. Each case checks the final
// phases (nothing stuck), the bucket's contents (nothing lost, nothing
// half-written left) and that a later restore of each Completed backup
// brings back exactly what was backed up.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// faultConfigMaps returns name -> data["index"] of the ConfigMaps in ns.
func faultConfigMaps(t *testing.T, env *harness.Env, ns string) map[string]string {
	t.Helper()
	var list corev1.ConfigMapList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{"app": "app"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, cm := range list.Items {
		out[cm.Name] = cm.Data["index"]
	}
	return out
}

func faultSameConfigMaps(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d ConfigMaps, want %d", what, len(got), len(want))
	}
	for name, v := range want {
		if got[name] != v {
			t.Fatalf("%s: ConfigMap %s has index %q, want %q", what, name, got[name], v)
		}
	}
}

// faultRestore runs a restore that must end Completed without errors
// (warnings for objects that exist already are expected).
func faultRestore(t *testing.T, env *harness.Env, name, backup string, args ...string) {
	t.Helper()
	res, r := restoreRun(t, env, name, backup, args...)
	if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 {
		t.Fatalf("restore %s: phase %s, %d errors: %v\n%s", name, r.Status.Phase, r.Status.Errors, res.Err, res.Output())
	}
}

// killWhen kills the server as soon as cond holds (polled every 10 ms), then
// starts a new one; it fails if cond never held, since the fault was then
// not injected.
func killWhen(t *testing.T, env *harness.Env, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s: the fault could not be injected", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	env.KillServer()
	env.StartServer()
}

// TestFaultServerKilled kills the server (SIGKILL) during a restore and
// during a deletion, and restarts it (leader election on: the new server
// waits out the dead one's lease). The restore ends Failed with the reason,
// not InProgress, and running it again restores everything; the deletion
// goes on and removes every file of the backup.
func TestFaultServerKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := harness.Start(t, harness.Options{})
	const n = 1500
	createAppNamespace(t, env, "app", n)
	want := faultConfigMaps(t, env, "app")
	mustBackup(t, env, "whole", "--include-namespaces", "app")
	mustBackup(t, env, "doomed", "--include-namespaces", "app")

	t.Run("during a restore", func(t *testing.T) {
		env.MustArk("restore", "create", "cut", "--from-backup", "whole", "--namespace-mappings", "app:app-cut")
		killWhen(t, env, "restore cut InProgress", func() bool {
			var r arkv1.Restore
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "cut"}, &r)
			return err == nil && r.Status.Phase == arkv1.RestorePhaseInProgress
		})
		var r *arkv1.Restore
		env.Eventually(2*time.Minute, "restore cut settled", func() (bool, error) {
			r = restoreFetch(t, env, "cut")
			return r.Status.Phase != arkv1.RestorePhaseInProgress, nil
		})
		if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "stopped while this restore was in progress") {
			t.Fatalf("interrupted restore: phase %s, reason %q", r.Status.Phase, r.Status.FailureReason)
		}
		// Running it again brings back the rest; what the first run created
		// is left as it is and identical.
		faultRestore(t, env, "again", "whole", "--namespace-mappings", "app:app-cut")
		faultSameConfigMaps(t, "after the second restore", want, faultConfigMaps(t, env, "app-cut"))
	})

	t.Run("during a deletion", func(t *testing.T) {
		if len(bucketObjects(t, env.Cluster.MinIO, env.Bucket, "doomed/")) == 0 {
			t.Fatal("backup doomed is not in the bucket")
		}
		env.MustArk("backup", "delete", "doomed", "--confirm")
		killWhen(t, env, "the deletion of doomed under way", func() bool {
			for _, r := range deleteRequests(t, env, "doomed") {
				if r.Status.Phase == arkv1.DeleteBackupRequestPhaseInProgress {
					return true
				}
			}
			b, err := getBackup(env, "doomed")
			return err == nil && b.Status.Phase == arkv1.BackupPhaseDeleting
		})
		waitBackupGone(env, "doomed", 2*time.Minute)
		waitProcessedRequest(env, "doomed", time.Minute)
		if left := bucketObjects(t, env.Cluster.MinIO, env.Bucket, "doomed/"); len(left) != 0 {
			t.Fatalf("the bucket still holds %v", sortedKeys(left))
		}
		// The other backup is untouched and restores exactly.
		requireStoredBackup(t, env, env.Cluster.MinIO, "whole")
		faultRestore(t, env, "whole-after", "whole", "--namespace-mappings", "app:app-after")
		faultSameConfigMaps(t, "restore after the deletion", want, faultConfigMaps(t, env, "app-after"))
	})
}

// TestFaultSharedBucketSameNames runs two clusters on one bucket, both
// read-write, each creating a backup named "same". The second is refused
// at validation, naming the fix, and the first's files are left exactly as
// they were, through the refusal and through deleting the refused backup;
// each cluster's Completed backups restore exactly.
func TestFaultSharedBucketSameNames(t *testing.T) {
	t.Parallel()
	first := harness.Start(t, harness.Options{})
	createAppNamespace(t, first, "app", 20)
	want := faultConfigMaps(t, first, "app")
	mustBackup(t, first, "same", "--include-namespaces", "app")
	stored := bucketObjects(t, first.Cluster.MinIO, first.Bucket, "same/")

	// The second cluster's server starts after its backup is created, so the
	// backup is validated before a sync could bring the first one's in.
	second := harness.Start(t, harness.Options{MinIO: first.Cluster.MinIO, NoServer: true})
	createAppNamespace(t, second, "app", 7)
	second.MustArk("backup", "create", "same", "--include-namespaces", "app")
	second.MustArk("backup", "create", "mine", "--include-namespaces", "app")
	second.StartServer()
	b := waitBackupPhase(second, "same", 2*time.Minute, arkv1.BackupPhaseFailedValidation, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed)
	if b.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(strings.Join(b.Status.ValidationErrors, "\n"), "already holds a backup named") {
		t.Fatalf("second cluster's backup same: phase %s, errors %q", b.Status.Phase, b.Status.ValidationErrors)
	}
	waitBackupPhase(second, "mine", 2*time.Minute, arkv1.BackupPhaseCompleted)
	if got := bucketObjects(t, first.Cluster.MinIO, first.Bucket, "same/"); fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Fatalf("the first cluster's backup changed in the bucket:\nbefore %v\nafter  %v", stored, got)
	}

	// Deleting the refused backup deletes the Backup object only.
	second.MustArk("backup", "delete", "same", "--confirm")
	waitBackupGone(second, "same", time.Minute)
	if got := bucketObjects(t, first.Cluster.MinIO, first.Bucket, "same/"); fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Fatalf("deleting the refused backup touched the first one's files:\nbefore %v\nafter  %v", stored, got)
	}

	// Both Completed backups restore exactly, each in its cluster.
	faultRestore(t, first, "same-back", "same", "--namespace-mappings", "app:app-back")
	faultSameConfigMaps(t, "first cluster's restore", want, faultConfigMaps(t, first, "app-back"))
	wantMine := faultConfigMaps(t, second, "app")
	faultRestore(t, second, "mine-back", "mine", "--namespace-mappings", "app:app-back")
	faultSameConfigMaps(t, "second cluster's restore", wantMine, faultConfigMaps(t, second, "app-back"))
}

// restartMinIO kills the cluster's MinIO (SIGKILL), waits down, and starts
// it again with the same command line, environment and data; the new
// process is stopped at the end of the test.
func restartMinIO(t *testing.T, env *harness.Env, down time.Duration) {
	t.Helper()
	pid := 0
	for _, p := range env.Cluster.Processes() {
		if p.Name == "minio" && p.Running {
			pid = p.PID
		}
	}
	if pid == 0 {
		t.Fatal("the cluster's MinIO is not running")
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(50 * time.Millisecond) // reaped by the cluster's own wait
	}
	time.Sleep(down)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	env.Eventually(time.Minute, "MinIO ready again", func() (bool, error) {
		resp, err := http.Get(env.Cluster.MinIO.Endpoint + "/minio/health/ready")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
}

// TestFaultObjectStorageDown stops MinIO while a backup uploads and starts
// it again. The backup settles (never stays InProgress): Completed ones
// restore exactly; a Failed one says why and leaves no half-stored backup
// that a restore or sync would take for whole; later backups work.
func TestFaultObjectStorageDown(t *testing.T) {
	t.Parallel()
	// One item per LIST page keeps the upload going long enough to stop
	// MinIO under it.
	env := harness.Start(t, harness.Options{ServerArgs: []string{"--backup-page-size", "1"}})
	createAppNamespace(t, env, "app", 600)
	want := faultConfigMaps(t, env, "app")
	env.MustArk("backup", "create", "cut", "--include-namespaces", "app")
	env.Eventually(time.Minute, "backup cut InProgress", func() (bool, error) {
		b, err := getBackup(env, "cut")
		return err == nil && b.Status.Phase == arkv1.BackupPhaseInProgress, err
	})
	restartMinIO(t, env, 5*time.Second)
	b := waitBackupPhase(env, "cut", 3*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed)
	t.Logf("backup cut under a MinIO restart: %s %q", b.Status.Phase, b.Status.FailureReason)
	stored := bucketObjects(t, env.Cluster.MinIO, env.Bucket, "cut/")
	switch b.Status.Phase {
	case arkv1.BackupPhaseFailed:
		if b.Status.FailureReason == "" {
			t.Fatal("a Failed backup without a reason")
		}
		if _, ok := stored["cut/ark-backup.json"]; ok {
			t.Fatalf("a Failed backup's metadata is in the bucket, where sync would take it for whole: %v", sortedKeys(stored))
		}
	default:
		requireStoredBackup(t, env, env.Cluster.MinIO, "cut")
		faultRestore(t, env, "cut-back", "cut", "--namespace-mappings", "app:app-cut")
		faultSameConfigMaps(t, "restore of cut", want, faultConfigMaps(t, env, "app-cut"))
	}
	mustBackup(t, env, "after", "--include-namespaces", "app")
	faultRestore(t, env, "after-back", "after", "--namespace-mappings", "app:app-after")
	faultSameConfigMaps(t, "restore of after", want, faultConfigMaps(t, env, "app-after"))
}
