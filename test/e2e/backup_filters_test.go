package e2e

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/heptio/ark/test/e2e/harness"
)

const filterFixture = `
apiVersion: v1
kind: Namespace
metadata: {name: ns-a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-a, namespace: ns-a, labels: {app: x}}
data: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: secret-a, namespace: ns-a, labels: {app: x}}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-b, namespace: ns-b}
data: {k: v}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns-b, labels: {app: x}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: filter-test-role, labels: {app: x}}
rules: []
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-a}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/pv-a}
  claimRef: {namespace: ns-a, name: claim-a}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim-a, namespace: ns-a}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeName: pv-a
  storageClassName: ""
---
# A tenant of ns-b names ns-a's volume in its claim: the claim stays
# Pending, and the volume must not come into backups of ns-b.
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: steal, namespace: ns-b}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeName: pv-a
  storageClassName: ""
---
apiVersion: v1
kind: Pod
metadata: {name: pod-a, namespace: ns-a, labels: {app: x}}
spec:
  containers: [{name: c, image: busybox}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: claim-a}}]
`

// TestBackupFilters backs up one fixture with each kind of filter and checks
// the exact entries of each downloaded archive.
func TestBackupFilters(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	fixture := filepath.Join(t.TempDir(), "fixture.yaml")
	writeFile(t, fixture, filterFixture)
	env.MustKubectl("apply", "-f", fixture)

	// Every namespace gets these from the controller-manager.
	nsDefaults := func(ns string) []string {
		return []string{
			"resources/configmaps/namespaces/" + ns + "/kube-root-ca.crt.json",
			"resources/serviceaccounts/namespaces/" + ns + "/default.json",
		}
	}
	nsA := append(nsDefaults("ns-a"),
		"resources/namespaces/cluster/ns-a.json",
		"resources/configmaps/namespaces/ns-a/cm-a.json",
		"resources/secrets/namespaces/ns-a/secret-a.json",
		"resources/pods/namespaces/ns-a/pod-a.json",
		"resources/persistentvolumeclaims/namespaces/ns-a/claim-a.json",
	)
	nsB := append(nsDefaults("ns-b"),
		"resources/namespaces/cluster/ns-b.json",
		"resources/configmaps/namespaces/ns-b/cm-b.json",
		"resources/deployments.apps/namespaces/ns-b/web.json",
		"resources/persistentvolumeclaims/namespaces/ns-b/steal.json",
	)
	pvA := "resources/persistentvolumes/cluster/pv-a.json"
	role := "resources/clusterroles.rbac.authorization.k8s.io/cluster/filter-test-role.json"

	cases := []struct {
		name string
		args []string
		// want are the entries expected among those of the fixture.
		want []string
	}{
		// A PV comes along with its claim even when cluster resources are
		// not otherwise included.
		{"one namespace", []string{"--include-namespaces", "ns-a"}, append(append([]string{}, nsA...), pvA)},
		// ns-b's claim "steal" names pv-a, which is bound to ns-a's claim:
		// pv-a stays out.
		{"exclude a namespace", []string{"--exclude-namespaces", "ns-a"}, nsB},
		{"resources by short name and group", []string{"--include-namespaces", "ns-a,ns-b", "--include-resources", "cm,deployments.apps"},
			[]string{"resources/namespaces/cluster/ns-a.json", "resources/namespaces/cluster/ns-b.json",
				"resources/configmaps/namespaces/ns-a/cm-a.json", "resources/configmaps/namespaces/ns-a/kube-root-ca.crt.json",
				"resources/configmaps/namespaces/ns-b/cm-b.json", "resources/configmaps/namespaces/ns-b/kube-root-ca.crt.json",
				"resources/deployments.apps/namespaces/ns-b/web.json"}},
		{"exclude resources", []string{"--include-namespaces", "ns-a", "--exclude-resources", "secrets,pvc"},
			[]string{"resources/namespaces/cluster/ns-a.json", "resources/configmaps/namespaces/ns-a/cm-a.json",
				"resources/configmaps/namespaces/ns-a/kube-root-ca.crt.json", "resources/serviceaccounts/namespaces/ns-a/default.json",
				"resources/pods/namespaces/ns-a/pod-a.json"}},
		// The selector matches the pod, which pulls in its claim and the
		// claim's volume, though neither carries the label.
		{"label selector", []string{"--selector", "app=x"},
			[]string{"resources/namespaces/cluster/ns-a.json", "resources/namespaces/cluster/ns-b.json",
				"resources/configmaps/namespaces/ns-a/cm-a.json", "resources/secrets/namespaces/ns-a/secret-a.json",
				"resources/pods/namespaces/ns-a/pod-a.json", "resources/persistentvolumeclaims/namespaces/ns-a/claim-a.json",
				pvA, "resources/deployments.apps/namespaces/ns-b/web.json", role}},
		{"cluster resources forced on", []string{"--include-namespaces", "ns-b", "--include-cluster-resources"},
			append(append([]string{}, nsB...), pvA, role)},
		{"cluster resources forced off", []string{"--include-namespaces", "ns-a", "--include-cluster-resources=false"}, nsA},
		{"everything", nil, append(append(append([]string{}, nsA...), nsB...), pvA, role)},
	}
	for i, tc := range cases {
		name := "filters-" + string(rune('a'+i))
		args := append([]string{"backup", "create", name, "--wait"}, tc.args...)
		if out := env.MustArk(args...); !strings.Contains(out, "Completed") {
			t.Fatalf("%s: backup did not complete:\n%s", tc.name, out)
		}
		tarball := filepath.Join(t.TempDir(), name+".tar.gz")
		env.MustArk("backup", "download", name, "-o", tarball)
		got := fixtureEntries(tarEntries(t, tarball))
		want := append([]string{}, tc.want...)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s (%v):\n got  %v\n want %v", tc.name, tc.args, got, want)
		}
		for path := range tarEntries(t, tarball) {
			if !strings.HasPrefix(path, "resources/") {
				continue
			}
			resource := strings.Split(path, "/")[1]
			if strings.HasPrefix(path, "resources/events") || strings.HasSuffix(resource, ".ark.heptio.com") {
				t.Errorf("%s: archive has %s; events and Ark's own objects stay out by default", tc.name, path)
			}
		}
	}
}

// fixtureEntries keeps the entries that belong to the fixture: its two
// namespaces, pv-a and the test ClusterRole.
func fixtureEntries(entries map[string][]byte) []string {
	var out []string
	for p := range entries {
		switch {
		case strings.Contains(p, "/namespaces/ns-a/"), strings.Contains(p, "/namespaces/ns-b/"),
			strings.HasSuffix(p, "/cluster/ns-a.json"), strings.HasSuffix(p, "/cluster/ns-b.json"),
			strings.HasSuffix(p, "/cluster/pv-a.json"), strings.HasSuffix(p, "/cluster/filter-test-role.json"):
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
