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
	e.newRestore(t, "r-missing", arkv1.RestoreSpec{BackupName: "missing"})
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
		// A backup that is neither in the cluster nor in the bucket has no
		// files to link to.
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "missing"}, failure: `backup "missing" not found in namespace`},
		{target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreLog, Name: "r-missing"}, failure: `backup "missing" not found in namespace`},
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
