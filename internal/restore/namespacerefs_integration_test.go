package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
)

// liveObject names one object of the live cluster to back up.
type liveObject struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

// backupObjects writes the live objects, as the API server returns them,
// into a real archive and extracts it.
func (c *liveCluster) backupObjects(t *testing.T, objects ...liveObject) *archive.Contents {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objects {
		obj, err := c.dynamic.Resource(o.gvr).Namespace(o.namespace).Get(context.Background(), o.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(archive.Item{Resource: o.gvr.GroupResource().String(), Namespace: o.namespace, Name: o.name}, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	contents, err := archive.Extract(&buf, filepath.Join(t.TempDir(), "backup"), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return contents
}

// TestIntegrationNamespaceMappingMovesGrants restores team-a as team-b on a
// real API server with its token controller: the copy's bindings grant the
// copy's ServiceAccount (never team-a's), its NetworkPolicy admits its own
// namespace, its ServiceAccount token Secret survives and holds a token of
// the new ServiceAccount, and the cluster-wide grants the restore created
// are listed in its warnings.
func TestIntegrationNamespaceMappingMovesGrants(t *testing.T) {
	c := startLiveCluster(t)
	ctx := context.Background()
	k := c.kube

	must[*corev1.Namespace](t)(k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}))
	must[*corev1.ServiceAccount](t)(k.CoreV1().ServiceAccounts("team-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}))
	must[*corev1.Secret](t)(k.CoreV1().Secrets("team-a").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "app-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "app"}},
		Type:       corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{}))
	var original *corev1.Secret
	waitUntil(t, "the token controller fills team-a/app-token", func() (bool, error) {
		s, err := k.CoreV1().Secrets("team-a").Get(ctx, "app-token", metav1.GetOptions{})
		original = s
		return err == nil && len(s.Data["token"]) > 0, err
	})
	saSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "app", Namespace: "team-a"}, {Kind: "User", Name: "alice", APIGroup: rbacv1.GroupName}}
	must[*rbacv1.Role](t)(k.RbacV1().Roles("team-a").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}))
	must[*rbacv1.RoleBinding](t)(k.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "app-reader"},
		Subjects: saSubject, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}}, metav1.CreateOptions{}))
	must[*rbacv1.ClusterRole](t)(k.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "team-a-nodes"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}))
	must[*rbacv1.ClusterRoleBinding](t)(k.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-a-nodes"},
		Subjects: saSubject, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-a-nodes"}}, metav1.CreateOptions{}))
	must[*networkingv1.NetworkPolicy](t)(k.NetworkingV1().NetworkPolicies("team-a").Create(ctx, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "same-namespace"},
		Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: "team-a"}}}}}}}}, metav1.CreateOptions{}))

	rbac := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: resource}
	}
	backup := c.backupObjects(t,
		liveObject{namespacesGVR, "", "team-a"},
		liveObject{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "team-a", "app"},
		liveObject{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "team-a", "app-token"},
		liveObject{rbac("roles"), "team-a", "reader"},
		liveObject{rbac("rolebindings"), "team-a", "app-reader"},
		liveObject{rbac("clusterroles"), "", "team-a-nodes"},
		liveObject{rbac("clusterrolebindings"), "", "team-a-nodes"},
		liveObject{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, "team-a", "same-namespace"},
	)
	// The cluster-wide objects are gone (a new cluster); team-a is still
	// here, so the copy must not grant anything to it.
	if err := k.RbacV1().ClusterRoleBindings().Delete(ctx, "team-a-nodes", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k.RbacV1().ClusterRoles().Delete(ctx, "team-a-nodes", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	res := c.restore(t, backup, "copy", arkv1.RestoreSpec{NamespaceMapping: map[string]string{"team-a": "team-b"}})
	if len(res.Errors.Ark)+len(res.Errors.Cluster)+len(res.Errors.Namespaces) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}

	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "app", Namespace: "team-b"}, {Kind: "User", Name: "alice", APIGroup: rbacv1.GroupName}}
	rb := must[*rbacv1.RoleBinding](t)(k.RbacV1().RoleBindings("team-b").Get(ctx, "app-reader", metav1.GetOptions{}))
	if !slices.Equal(rb.Subjects, wantSubjects) {
		t.Errorf("RoleBinding team-b/app-reader grants %+v, want %+v (never team-a's ServiceAccount)", rb.Subjects, wantSubjects)
	}
	crb := must[*rbacv1.ClusterRoleBinding](t)(k.RbacV1().ClusterRoleBindings().Get(ctx, "team-a-nodes", metav1.GetOptions{}))
	if !slices.Equal(crb.Subjects, wantSubjects) {
		t.Errorf("ClusterRoleBinding team-a-nodes grants %+v, want %+v", crb.Subjects, wantSubjects)
	}
	for _, want := range []string{
		"created ClusterRoleBinding team-a-nodes: it grants ClusterRole team-a-nodes in every namespace to ServiceAccount team-b/app, User alice",
		"created ClusterRole team-a-nodes: ",
	} {
		if !slices.ContainsFunc(res.Warnings.Cluster, func(w string) bool { return strings.HasPrefix(w, want) }) {
			t.Errorf("cluster warnings %q lack %q", res.Warnings.Cluster, want)
		}
	}
	np := must[*networkingv1.NetworkPolicy](t)(k.NetworkingV1().NetworkPolicies("team-b").Get(ctx, "same-namespace", metav1.GetOptions{}))
	if got := np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels[namespaceNameLabel]; got != "team-b" {
		t.Errorf("NetworkPolicy team-b/same-namespace admits namespace %q, want team-b", got)
	}

	sa := must[*corev1.ServiceAccount](t)(k.CoreV1().ServiceAccounts("team-b").Get(ctx, "app", metav1.GetOptions{}))
	waitUntil(t, "the token controller fills team-b/app-token for team-b/app", func() (bool, error) {
		s, err := k.CoreV1().Secrets("team-b").Get(ctx, "app-token", metav1.GetOptions{})
		if err != nil {
			// Deleted by the token controller: the failure this test is for.
			return false, err
		}
		return string(s.Data["namespace"]) == "team-b" && s.Annotations[corev1.ServiceAccountUIDKey] == string(sa.UID) && len(s.Data["token"]) > 0, nil
	})
	copied := must[*corev1.Secret](t)(k.CoreV1().Secrets("team-b").Get(ctx, "app-token", metav1.GetOptions{}))
	if bytes.Equal(copied.Data["token"], original.Data["token"]) {
		t.Error("the copy kept team-a's token")
	}
}
