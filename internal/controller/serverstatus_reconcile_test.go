package controller

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
)

func TestServerStatusRequestReconciler(t *testing.T) {
	e := newReconcilerEnv(t)
	ctx := context.Background()
	status := ServerStatus{Version: "v9", PluginDir: "/plugins",
		Plugins:      []arkv1.PluginInfo{{Kind: "objectstore", Name: "example.com/dirstore", Binary: "/plugins/dirstore", Version: "v1"}},
		PluginErrors: []string{"/plugins/broken: not loaded"}}
	r := &ServerStatusRequestReconciler{Client: e.client, Status: status, Log: e.log()}
	ssr := &arkv1.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: "q1"}}
	if err := e.client.Create(ctx, ssr); err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx, e.key("q1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.Get(ctx, e.key("q1").NamespacedName, ssr); err != nil {
		t.Fatal(err)
	}
	st := ssr.Status
	if st.Phase != arkv1.ServerStatusRequestPhaseProcessed || st.ServerVersion != "v9" || st.PluginDir != "/plugins" ||
		len(st.Plugins) != 1 || st.Plugins[0] != status.Plugins[0] || len(st.PluginErrors) != 1 || st.ProcessedTimestamp == nil {
		t.Errorf("status = %+v", st)
	}
	if res.RequeueAfter != ServerStatusTTL {
		t.Errorf("requeue after %v, want %v", res.RequeueAfter, ServerStatusTTL)
	}
	// Answered more than a minute ago: deleted.
	old := metav1.NewTime(time.Now().Add(-2 * ServerStatusTTL))
	if err := patchStatus(ctx, e.client, ssr, func(s *arkv1.ServerStatusRequest) { s.Status.ProcessedTimestamp = &old }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, e.key("q1")); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Get(ctx, e.key("q1").NamespacedName, ssr); !apierrors.IsNotFound(err) {
		t.Errorf("an old answered request was not deleted: %v", err)
	}
}
