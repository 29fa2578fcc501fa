package controller

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
)

func TestDownloadRequestReconciler(t *testing.T) {
	e := newReconcilerEnv(t)
	e.newBackup(t, "b1", arkv1.BackupSpec{})
	e.newRestore(t, "r1", arkv1.RestoreSpec{BackupName: "b1"})
	// A backup of another namespace (another Ark server's, or no one's):
	// requests in this namespace cannot reach it, even when the bucket
	// holds its files.
	other := "other-" + e.namespace
	e.createNamespace(t, other)
	if err := e.client.Create(context.Background(), &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "theirs"}}); err != nil {
		t.Fatal(err)
	}
	r := &DownloadRequestReconciler{Client: e.client, Settings: e.settings, Log: e.log()}
	cases := []struct {
		target  arkv1.DownloadTarget
		url     string
		failure string
	}{
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Name: "b1"}, url: "mem://ark/b1/b1.tar.gz"},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "b1"}, url: "mem://ark/b1/b1-logs.gz"},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreLog, Name: "r1"}, url: "mem://ark/b1/restore-r1-logs.gz"},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreResults, Name: "r1"}, url: "mem://ark/b1/restore-r1-results.gz"},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreLog, Name: "nope"}, failure: `restore "nope" not found`},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Name: "theirs"}, failure: `backup "theirs" not found in namespace ` + e.namespace},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "nope"}, failure: `backup "nope" not found`},
		// Names become part of bucket keys: one that is no object name is
		// refused before any key is built.
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Name: "../b1"}, failure: `spec.target.name "../b1" is not the name of a backup or restore`},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "b1/b1.tar.gz#"}, failure: "is not the name of a backup or restore"},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreResults, Name: "r1/../r1"}, failure: "is not the name of a backup or restore"},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Name: strings.Repeat("b", 5000)}, failure: "(5000 bytes)"},
	}
	for i, c := range cases {
		name := "dr" + string(rune('a'+i))
		dr := &arkv1.DownloadRequest{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name},
			Spec: arkv1.DownloadRequestSpec{Target: c.target}}
		if err := e.client.Create(context.Background(), dr); err != nil {
			t.Fatal(err)
		}
		res, err := r.Reconcile(context.Background(), e.key(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.Get(context.Background(), e.key(name).NamespacedName, dr); err != nil {
			t.Fatal(err)
		}
		st := dr.Status
		switch {
		case c.failure != "":
			if st.Phase != arkv1.DownloadRequestPhaseFailed || !strings.Contains(st.FailureReason, c.failure) {
				t.Errorf("%v: status %+v, want Failed with %q", c.target, st, c.failure)
			}
		case st.Phase != arkv1.DownloadRequestPhaseProcessed || st.DownloadURL != c.url:
			t.Errorf("%v: status %+v, want Processed with %s", c.target, st, c.url)
		}
		if st.Expiration == nil || res.RequeueAfter != DownloadURLTTL {
			t.Errorf("%v: expiration %v, requeue %v: want it expired after %s", c.target, st.Expiration, res.RequeueAfter, DownloadURLTTL)
		}
	}
}
