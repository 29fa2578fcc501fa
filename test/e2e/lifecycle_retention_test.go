package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestLifecycleRetention: a schedule with keepLast 3 and a TTL of one
// minute runs six backups; garbage collection deletes the three oldest as
// soon as newer ones Complete (before their TTL), keeps the newest three,
// and once all of them have expired keeps the newest Completed one, even
// behind newer runs that failed. `ark backup describe` says why a backup is
// kept, `ark schedule describe` which backups go next.
func TestLifecycleRetention(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoServer: true, ServerArgs: fastSyncArgs})
	ctx := context.Background()
	cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
	cfg.GCSyncPeriod = metav1.Duration{Duration: time.Second}
	env.ApplyConfig(cfg)
	env.StartServer()
	m := env.Cluster.MinIO
	createAppNamespace(t, env, "ret-app", 2)

	out := env.MustArk("schedule", "create", "keep3", "--schedule", "@every 5s", "--include-namespaces", "ret-app",
		"--ttl", "1m", "--keep-last", "3")
	if !strings.Contains(out, `Schedule "keep3" created`) {
		t.Fatalf("schedule create:\n%s", out)
	}

	// Every backup the schedule makes, as first seen, oldest first, and
	// those seen Completed.
	var made []string
	completed := map[string]bool{}
	expires := map[string]time.Time{}
	seen := func() {
		times, byTime := scheduledBackups(t, env, "keep3")
		for _, due := range times {
			b := byTime[due]
			if !slices.Contains(made, b.Name) {
				made = append(made, b.Name)
				slices.Sort(made)
			}
			if b.Status.Expiration != nil {
				expires[b.Name] = b.Status.Expiration.Time
			}
			if b.Status.Phase == arkv1.BackupPhaseCompleted {
				completed[b.Name] = true
			}
		}
	}
	env.Eventually(2*time.Minute, "six backups of schedule keep3", func() (bool, error) {
		seen()
		return len(made) >= 6, nil
	})
	// Later runs fail (an unknown resource), so the newest Completed backup
	// stays the newest Completed one.
	var s arkv1.Schedule
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "keep3"}, &s); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(s.DeepCopy())
	s.Spec.Template.IncludedResources = []string{"no-such-resource"}
	if err := env.Client.Patch(ctx, &s, patch); err != nil {
		t.Fatal(err)
	}
	// Every run made with the old template has finished.
	env.Eventually(time.Minute, "the runs made before the template changed finished", func() (bool, error) {
		seen()
		for _, name := range made {
			b, err := getBackup(env, name)
			if err != nil {
				continue // deleted by now
			}
			switch b.Status.Phase {
			case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress:
				return false, nil
			case arkv1.BackupPhaseCompleted:
				// It may have finished since seen() read it.
				completed[name] = true
			}
		}
		return true, nil
	})
	var good []string
	for _, name := range made {
		if completed[name] {
			good = append(good, name)
		}
	}
	if len(good) < 6 {
		t.Fatalf("backups seen Completed: %v of %v; want at least six", good, made)
	}
	newest3, oldest3 := good[len(good)-3:], good[:len(good)-3]
	guarded := newest3[2]
	for _, name := range newest3 {
		if b, err := getBackup(env, name); err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
			t.Fatalf("backup %s: %v %+v", name, err, b.Status)
		}
	}

	// keepLast 3: the three oldest go as soon as newer ones Complete, well
	// before their TTL.
	for _, name := range oldest3 {
		waitBackupGone(env, name, time.Minute)
	}
	if now := time.Now(); !now.Before(expires[oldest3[0]]) {
		t.Fatalf("the oldest backup went at %s, after its expiration %s: the count did not delete it", now, expires[oldest3[0]])
	}
	for _, name := range newest3 {
		requireStoredBackup(t, env, m, name)
	}
	for _, name := range oldest3 {
		if left := bucketObjects(t, m, env.Bucket, name+"/"); len(left) != 0 {
			t.Fatalf("files of %s (deleted by keepLast) remain: %v", name, sortedKeys(left))
		}
	}
	d := env.MustArk("backup", "describe", newest3[2])
	if !strings.Contains(d, "Retention:   kept: the newest Completed backup of schedule keep3, which expiry never deletes") {
		t.Fatalf("describe of the newest backup:\n%s", d)
	}
	if d := env.MustArk("backup", "describe", newest3[0]); !strings.Contains(d, "kept by keepLast (3 of 3) of schedule keep3") {
		t.Fatalf("describe of the third newest backup:\n%s", d)
	}
	sd := env.MustArk("schedule", "describe", "keep3")
	if !strings.Contains(sd, "Retention:  keepLast 3 (the schedule's own), plus each backup's TTL") ||
		!strings.Contains(sd, "Kept whatever the settings say: "+newest3[2]) ||
		!strings.Contains(sd, "    "+newest3[0]+"  ") || !strings.Contains(sd, "once the next run Completes") {
		t.Fatalf("schedule describe:\n%s", sd)
	}
	t.Logf("schedule describe:\n%s", sd)

	// TTL: the others expire; the newest Completed stays, past its own
	// expiration and behind the failed runs made since.
	for _, name := range newest3[:2] {
		waitBackupGone(env, name, 2*time.Minute)
	}
	if wait := time.Until(expires[guarded].Add(5 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	b, err := getBackup(env, guarded)
	if err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("the newest Completed backup after its expiration: %v %+v", err, b.Status)
	}
	requireStoredBackup(t, env, m, guarded)
	if reqs := deleteRequests(t, env, guarded); len(reqs) != 0 {
		t.Fatalf("GC asked for the deletion of the guarded backup: %+v", reqs)
	}
	var failed []string
	seen()
	for _, name := range made {
		if name <= guarded {
			continue
		}
		if b, err := getBackup(env, name); err == nil {
			if b.Status.Phase != arkv1.BackupPhaseFailedValidation {
				t.Fatalf("run %s after the template change: %s", name, b.Status.Phase)
			}
			failed = append(failed, name)
		}
	}
	if len(failed) == 0 {
		t.Fatal("no failed run is newer than the guarded backup; the check proves less than it should")
	}
	d = env.MustArk("backup", "describe", guarded)
	if !strings.Contains(d, "kept: the newest Completed backup of schedule keep3") || !strings.Contains(d, "its TTL expires at") {
		t.Fatalf("describe of the guarded backup after its expiration:\n%s", d)
	}
	t.Logf("kept %s past its expiration %s, behind %d failed runs", guarded, expires[guarded].UTC().Format(time.RFC3339), len(failed))
}
