package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/component-helpers/auth/rbac/validation"
	"sigs.k8s.io/yaml"

	"github.com/heptio/ark/examples"
	"github.com/heptio/ark/internal/cli/install"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestExamples applies every example manifest, placeholders filled in as the
// docs tell users, to a real cluster with its kubectl, in the order of the
// docs, and checks that each object is in the cluster as written (a field
// the API server dropped, e.g. a misspelt Config field pruned by the CRD
// schema, fails the test). There is no kubelet, so the pods stay Pending.
func TestExamples(t *testing.T) {
	t.Parallel()
	cluster := localcluster.StartForTest(t, localcluster.Options{})
	dir := examplesFilledCopy(t)
	kubectl := func(args ...string) string { return examplesKubectl(t, cluster, dir, args...) }

	// The docs' order: prerequisites, the secret, the server, a provider.
	kubectl("apply", "-f", "common/00-prereqs.yaml")
	examplesCheckApplied(t, cluster, dir, "common/00-prereqs.yaml")
	var crdNames []string
	for _, o := range examplesObjects(t, dir, "common/00-prereqs.yaml") {
		if o.GetKind() == "CustomResourceDefinition" {
			crdNames = append(crdNames, "crd/"+o.GetName())
		}
	}
	kubectl(append([]string{"wait", "--for", "condition=established", "--timeout=60s"}, crdNames...)...)
	if err := os.WriteFile(filepath.Join(dir, "credentials-ark"), []byte("[default]\naws_access_key_id=AKID\naws_secret_access_key=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl("create", "secret", "generic", "cloud-credentials", "--namespace", "heptio-ark", "--from-file", "cloud=credentials-ark")

	applied := map[string]bool{"common/00-prereqs.yaml": true}
	for _, provider := range []string{"aws", "gcp", "minio", "filesystem", "azure"} {
		// AWS, GCP and MinIO: the common deployment, then the provider's
		// directory; Azure and the directory store bring their own.
		if provider != "azure" && provider != "filesystem" {
			kubectl("apply", "-f", "common/10-deployment.yaml")
			examplesCheckApplied(t, cluster, dir, "common/10-deployment.yaml")
			applied["common/10-deployment.yaml"] = true
		}
		kubectl("apply", "-f", provider+"/")
		for _, f := range examplesFiles(t, provider) {
			examplesCheckApplied(t, cluster, dir, f)
			applied[f] = true
		}
	}
	for _, f := range examplesFiles(t, "nginx-app") {
		kubectl("apply", "-f", f)
		examplesCheckApplied(t, cluster, dir, f)
		applied[f] = true
	}
	for _, f := range examplesFiles(t, ".") {
		if !applied[f] {
			t.Errorf("%s was not applied: add it to TestExamples", f)
		}
	}
}

// The CRDs of 00-prereqs.yaml are those of config/crd, object for object.
func TestExamplesPrereqsCRDsAreGenerated(t *testing.T) {
	inPrereqs := map[string]any{}
	data, err := examples.FS.ReadFile("common/00-prereqs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := install.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			inPrereqs[o.GetName()] = examplesJSON(t, o.Object)
		}
	}
	files, _ := filepath.Glob(harness.RepoPath("config", "crd", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no CRDs in config/crd")
	}
	generated := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u := unstructured.Unstructured{Object: m}
		generated[u.GetName()] = examplesJSON(t, m)
	}
	if len(inPrereqs) != len(generated) {
		t.Errorf("00-prereqs.yaml has %d CRDs, config/crd %d: run make generate", len(inPrereqs), len(generated))
	}
	for name, crd := range generated {
		if !reflect.DeepEqual(inPrereqs[name], crd) {
			t.Errorf("CRD %s of 00-prereqs.yaml differs from config/crd: run make generate", name)
		}
	}
}

// The RBAC of 00-prereqs.yaml lets the service account ark do what the
// server does, and no more than the least privilege docs/rbac.md explains.
//
// `kubectl auth can-i --as system:serviceaccount:heptio-ark:ark` cannot
// tell: the local API server runs --authorization-mode AlwaysAllow and says
// yes to everything. So the rules are evaluated in Go with the API server's
// own escalation check, validation.Covers from k8s.io/component-helpers
// (the code that decides whether a role holds another role's rules), on the
// service account's rules gathered from the bindings that name it.
func TestExamplesRBAC(t *testing.T) {
	data, err := examples.FS.ReadFile("common/00-prereqs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := install.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	clusterRules, namespaceRules := examplesServiceAccountRules(t, objs, "heptio-ark", "ark")
	if len(clusterRules) == 0 || len(namespaceRules["heptio-ark"]) == 0 {
		t.Fatalf("the service account ark is bound to no rules: cluster %v, namespaced %v", clusterRules, namespaceRules)
	}
	allows := func(namespace string, want rbacv1.PolicyRule) bool {
		owner := append([]rbacv1.PolicyRule(nil), clusterRules...)
		owner = append(owner, namespaceRules[namespace]...)
		covered, _ := validation.Covers(owner, []rbacv1.PolicyRule{want})
		return covered
	}
	rule := func(verb, group, resource string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{group}, Resources: []string{resource}}
	}
	for _, tc := range []struct {
		namespace, verb, group, resource string
		want                             bool
	}{
		// Backups read everything, in every namespace.
		{"nginx-example", "list", "", "pods", true},
		{"nginx-example", "get", "", "secrets", true},
		{"", "list", "", "persistentvolumes", true},
		{"", "list", "", "namespaces", true},
		{"kube-system", "watch", "apps", "deployments", true},
		{"", "get", "apiextensions.k8s.io", "customresourcedefinitions", true},
		// Restores create everything.
		{"nginx-example", "create", "", "services", true},
		{"", "create", "", "namespaces", true},
		{"", "create", "", "persistentvolumes", true},
		{"nginx-example", "create", "apps", "deployments", true},
		{"", "create", "apiextensions.k8s.io", "customresourcedefinitions", true},
		// Restoring roles grants what Ark does not hold itself.
		{"nginx-example", "escalate", "rbac.authorization.k8s.io", "roles", true},
		{"nginx-example", "bind", "rbac.authorization.k8s.io", "roles", true},
		{"", "escalate", "rbac.authorization.k8s.io", "clusterroles", true},
		{"", "bind", "rbac.authorization.k8s.io", "clusterroles", true},
		// Hooks exec into pods, in any namespace.
		{"nginx-example", "create", "", "pods/exec", true},
		{"nginx-example", "get", "", "pods/exec", true},
		// Its own objects: everything, in its namespace.
		{"heptio-ark", "*", "ark.heptio.com", "backups", true},
		{"heptio-ark", "*", "ark.heptio.com", "restores", true},
		{"heptio-ark", "delete", "ark.heptio.com", "deletebackuprequests", true},
		{"heptio-ark", "patch", "ark.heptio.com", "backups/status", true},
		{"heptio-ark", "update", "coordination.k8s.io", "leases", true},
		// Least privilege: nothing is changed or deleted outside it.
		{"nginx-example", "delete", "", "pods", false},
		{"nginx-example", "update", "apps", "deployments", false},
		{"kube-system", "patch", "", "secrets", false},
		{"", "delete", "", "namespaces", false},
		{"", "delete", "", "persistentvolumes", false},
		{"nginx-example", "delete", "ark.heptio.com", "backups", false},
		{"", "update", "rbac.authorization.k8s.io", "clusterroles", false},
		{"", "impersonate", "", "users", false},
	} {
		if got := allows(tc.namespace, rule(tc.verb, tc.group, tc.resource)); got != tc.want {
			where := tc.namespace
			if where == "" {
				where = "cluster-wide"
			}
			t.Errorf("ark may %s %s.%s (%s): %v, want %v", tc.verb, tc.resource, tc.group, where, got, tc.want)
		}
	}
}

// examplesServiceAccountRules gathers the rules bound to a service account:
// cluster-wide ones from ClusterRoleBindings, per-namespace ones from
// RoleBindings (to a Role, or to a ClusterRole within the namespace).
func examplesServiceAccountRules(t *testing.T, objs []*unstructured.Unstructured, saNamespace, saName string) ([]rbacv1.PolicyRule, map[string][]rbacv1.PolicyRule) {
	t.Helper()
	clusterRoles := map[string][]rbacv1.PolicyRule{}
	roles := map[string][]rbacv1.PolicyRule{} // namespace/name
	var crbs []rbacv1.ClusterRoleBinding
	var rbs []rbacv1.RoleBinding
	for _, o := range objs {
		data := examplesJSONBytes(t, o.Object)
		switch o.GetKind() {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			examplesUnmarshal(t, data, &r)
			clusterRoles[r.Name] = r.Rules
		case "Role":
			var r rbacv1.Role
			examplesUnmarshal(t, data, &r)
			roles[r.Namespace+"/"+r.Name] = r.Rules
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			examplesUnmarshal(t, data, &b)
			crbs = append(crbs, b)
		case "RoleBinding":
			var b rbacv1.RoleBinding
			examplesUnmarshal(t, data, &b)
			rbs = append(rbs, b)
		}
	}
	names := func(subjects []rbacv1.Subject) bool {
		for _, s := range subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == saNamespace && s.Name == saName {
				return true
			}
		}
		return false
	}
	var cluster []rbacv1.PolicyRule
	for _, b := range crbs {
		if names(b.Subjects) && b.RoleRef.Kind == "ClusterRole" {
			cluster = append(cluster, clusterRoles[b.RoleRef.Name]...)
		}
	}
	namespaced := map[string][]rbacv1.PolicyRule{}
	for _, b := range rbs {
		if !names(b.Subjects) {
			continue
		}
		if b.RoleRef.Kind == "Role" {
			namespaced[b.Namespace] = append(namespaced[b.Namespace], roles[b.Namespace+"/"+b.RoleRef.Name]...)
		} else {
			namespaced[b.Namespace] = append(namespaced[b.Namespace], clusterRoles[b.RoleRef.Name]...)
		}
	}
	return cluster, namespaced
}

// examplesFilledCopy copies examples/ into a directory with every
// placeholder replaced by its sample value, as a user would edit them.
func examplesFilledCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := examples.FS.ReadFile(p)
		if err != nil {
			return err
		}
		filled := examples.Fill(data, examples.Placeholders)
		if examples.HasPlaceholder(filled) {
			return fmt.Errorf("%s keeps a placeholder after filling", p)
		}
		if err := os.MkdirAll(filepath.Join(dir, path.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), filled, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// examplesFiles lists the YAML files under examples/dir ("." for all).
func examplesFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(examples.FS, dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(p) == ".yaml" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func examplesObjects(t *testing.T, dir, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := install.Decode(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s has no objects", file)
	}
	return objs
}

// examplesKubectl runs the cluster's kubectl in dir and fails the test when
// it fails.
func examplesKubectl(t *testing.T, cluster *localcluster.Cluster, dir string, args ...string) string {
	t.Helper()
	bins := localcluster.TestBinaries(t)
	cmd := exec.Command(bins.Kubectl, append([]string{"--kubeconfig", cluster.Kubeconfig}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// examplesCheckApplied reads back every object of file from the cluster and
// checks that each field the file sets has the value it sets.
func examplesCheckApplied(t *testing.T, cluster *localcluster.Cluster, dir, file string) {
	t.Helper()
	for _, want := range examplesObjects(t, dir, file) {
		args := []string{"get", want.GetKind() + "." + want.GroupVersionKind().Group, want.GetName(), "-o", "json"}
		if want.GroupVersionKind().Group == "" {
			args[1] = want.GetKind()
		}
		if ns := want.GetNamespace(); ns != "" {
			args = append(args, "--namespace", ns)
		}
		var live map[string]any
		examplesUnmarshal(t, []byte(examplesKubectl(t, cluster, dir, args...)), &live)
		expected := examplesJSON(t, want.Object).(map[string]any)
		if sd, ok := expected["stringData"].(map[string]any); ok {
			// The API server stores stringData as data.
			delete(expected, "stringData")
			data := map[string]any{}
			for k, v := range sd {
				data[k] = base64.StdEncoding.EncodeToString([]byte(v.(string)))
			}
			expected["data"] = data
		}
		if err := examplesSubset("", expected, live); err != nil {
			t.Errorf("%s: %s/%s in the cluster differs from the file: %v", file, want.GetKind(), want.GetName(), err)
		}
	}
}

// examplesSubset checks that every field of want is in got with the same
// value; lists must have the same length, their items compared the same way.
func examplesSubset(at string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: is %T in the cluster, want an object", at, got)
		}
		for k, v := range w {
			if err := examplesSubset(at+"."+k, v, g[k]); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: is %v in the cluster, want %v", at, got, want)
		}
		for i := range w {
			if err := examplesSubset(fmt.Sprintf("%s[%d]", at, i), w[i], g[i]); err != nil {
				return err
			}
		}
	default:
		if want == false && got == nil {
			return nil // the API server omits false booleans
		}
		if !reflect.DeepEqual(want, got) {
			return fmt.Errorf("%s: is %v in the cluster, want %v", at, got, want)
		}
	}
	return nil
}

// examplesJSON turns a decoded object into plain JSON values, so that YAML
// and JSON decodings compare equal.
func examplesJSON(t *testing.T, v any) any {
	t.Helper()
	var out any
	examplesUnmarshal(t, examplesJSONBytes(t, v), &out)
	return out
}

func examplesJSONBytes(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func examplesUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
}
