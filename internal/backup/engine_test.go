package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

var verbs = metav1.Verbs{"list", "create", "get"}

// fakeCluster serves a few resources through client-go's fakes.
func fakeCluster(t *testing.T, objs ...runtime.Object) (*kube.Discovery, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	disc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	disc.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "namespaces", Kind: "Namespace", Verbs: verbs, ShortNames: []string{"ns"}},
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: verbs, ShortNames: []string{"cm"}},
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: verbs},
			{Name: "persistentvolumeclaims", Kind: "PersistentVolumeClaim", Namespaced: true, Verbs: verbs, ShortNames: []string{"pvc"}},
			{Name: "persistentvolumes", Kind: "PersistentVolume", Verbs: verbs, ShortNames: []string{"pv"}},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: verbs},
			{Name: "pods/log", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get"}},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: metav1.Verbs{"create"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: verbs, ShortNames: []string{"deploy"}},
		}},
		{GroupVersion: "extensions/v1beta1", APIResources: []metav1.APIResource{
			{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: verbs},
		}},
		{GroupVersion: "ark.heptio.com/v1", APIResources: []metav1.APIResource{
			{Name: "backups", Kind: "Backup", Namespaced: true, Verbs: verbs},
		}},
	}
	d, err := kube.NewDiscovery(disc)
	if err != nil {
		t.Fatal(err)
	}
	gvrs := map[schema.GroupVersionResource]string{}
	for _, r := range d.Resources() {
		gvrs[r.GVR] = r.Kind + "List"
	}
	return d, dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), gvrs, objs...)
}

func obj(apiVersion, kind, ns, name string, labels map[string]string, fields map[string]interface{}) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

func fixture() []runtime.Object {
	return []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		obj("v1", "Namespace", "", "b", nil, nil),
		obj("v1", "Namespace", "", "empty", nil, nil),
		obj("v1", "ConfigMap", "a", "cm1", map[string]string{"app": "x"}, nil),
		obj("v1", "ConfigMap", "b", "cm2", nil, nil),
		obj("v1", "Event", "a", "ev", nil, nil),
		obj("apps/v1", "Deployment", "b", "web", map[string]string{"app": "x"}, nil),
		obj("ark.heptio.com/v1", "Backup", "a", "old", nil, nil),
		obj("v1", "Pod", "a", "pod", map[string]string{"app": "x"}, map[string]interface{}{"spec": map[string]interface{}{
			"volumes": []interface{}{map[string]interface{}{"name": "d", "persistentVolumeClaim": map[string]interface{}{"claimName": "claim"}}},
		}}),
		obj("v1", "PersistentVolumeClaim", "a", "claim", nil, map[string]interface{}{"spec": map[string]interface{}{"volumeName": "vol"}}),
		obj("v1", "PersistentVolume", "", "vol", nil, map[string]interface{}{"spec": map[string]interface{}{
			"claimRef": map[string]interface{}{"namespace": "a", "name": "claim"},
		}}),
		obj("v1", "PersistentVolume", "", "other", nil, nil),
	}
}

// run backs up and returns the archive's item paths in write order.
func run(t *testing.T, spec arkv1.BackupSpec, vs VolumeSnapshotter, objs ...runtime.Object) ([]string, *Result) {
	t.Helper()
	d, dyn := fakeCluster(t, objs...)
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{
		Backup:    &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: spec},
		Discovery: d, Dynamic: dyn, Volumes: vs, PageSize: 2,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.NewReader(&buf, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for {
		item, _, err := r.Next()
		if err != nil {
			break
		}
		paths = append(paths, item.Path())
	}
	if res.Archive.Items != len(paths) {
		t.Fatalf("summary says %d items, archive has %d", res.Archive.Items, len(paths))
	}
	return paths, res
}

func sorted(s []string) string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return strings.Join(c, " ")
}

func TestEverythingByDefault(t *testing.T) {
	paths, res := run(t, arkv1.BackupSpec{}, nil, fixture()...)
	want := []string{
		"resources/pods/namespaces/a/pod.json",
		"resources/persistentvolumeclaims/namespaces/a/claim.json",
		"resources/persistentvolumes/cluster/vol.json",
		"resources/persistentvolumes/cluster/other.json",
		"resources/configmaps/namespaces/a/cm1.json",
		"resources/configmaps/namespaces/b/cm2.json",
		"resources/deployments.apps/namespaces/b/web.json",
		"resources/namespaces/cluster/a.json",
		"resources/namespaces/cluster/b.json",
		"resources/namespaces/cluster/empty.json",
	}
	if sorted(paths) != sorted(want) {
		t.Fatalf("got  %s\nwant %s", sorted(paths), sorted(want))
	}
	// Pods, then their claims and volumes, come first; events, Ark's own
	// backups and the extensions copy of deployments stay out.
	if paths[0] != "resources/pods/namespaces/a/pod.json" {
		t.Errorf("pods must come first, got %v", paths)
	}
	if res.ResourceCounts["deployments.apps"] != 1 || res.Errors != 0 {
		t.Errorf("counts %v errors %d", res.ResourceCounts, res.Errors)
	}
}

func TestNamespaceFilterAndPullIns(t *testing.T) {
	paths, _ := run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}}, nil, fixture()...)
	want := "resources/configmaps/namespaces/a/cm1.json resources/namespaces/cluster/a.json " +
		"resources/persistentvolumeclaims/namespaces/a/claim.json resources/persistentvolumes/cluster/vol.json " +
		"resources/pods/namespaces/a/pod.json"
	if sorted(paths) != want {
		t.Fatalf("got  %s\nwant %s", sorted(paths), want)
	}
	no := false
	paths, _ = run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}, IncludeClusterResources: &no}, nil, fixture()...)
	if strings.Contains(sorted(paths), "persistentvolumes/") {
		t.Fatalf("includeClusterResources=false must leave the pulled-in PV out: %v", paths)
	}
}

func TestExcludedNamespaceKeepsEmptyOnes(t *testing.T) {
	paths, _ := run(t, arkv1.BackupSpec{ExcludedNamespaces: []string{"b"}}, nil, fixture()...)
	got := sorted(paths)
	if !strings.Contains(got, "namespaces/cluster/empty.json") || strings.Contains(got, "/b/") || strings.Contains(got, "cluster/b.json") {
		t.Fatalf("got %s", got)
	}
	if strings.Contains(got, "persistentvolumes/cluster/other.json") {
		t.Fatalf("an exclusion means cluster resources only when pulled in: %s", got)
	}
}

func TestSelectorAndResources(t *testing.T) {
	spec := arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}
	paths, _ := run(t, spec, nil, fixture()...)
	want := "resources/configmaps/namespaces/a/cm1.json resources/deployments.apps/namespaces/b/web.json " +
		"resources/namespaces/cluster/a.json resources/namespaces/cluster/b.json " +
		"resources/persistentvolumeclaims/namespaces/a/claim.json resources/persistentvolumes/cluster/vol.json " +
		"resources/pods/namespaces/a/pod.json"
	if sorted(paths) != want {
		t.Fatalf("got  %s\nwant %s", sorted(paths), want)
	}
	paths, _ = run(t, arkv1.BackupSpec{IncludedResources: []string{"deploy", "events"}}, nil, fixture()...)
	if sorted(paths) != "resources/deployments.apps/namespaces/b/web.json resources/events/namespaces/a/ev.json resources/namespaces/cluster/a.json resources/namespaces/cluster/b.json resources/namespaces/cluster/empty.json" {
		t.Fatalf("named events are backed up: %s", sorted(paths))
	}
}

type recordingSnapshotter struct{ seen []string }

func (r *recordingSnapshotter) SnapshotVolume(_ context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	r.seen = append(r.seen, pv.GetName()+":"+tags["ark.heptio.com/backup"])
	return &arkv1.VolumeBackupInfo{SnapshotID: "snap-" + pv.GetName()}, nil
}

type panickingSnapshotter struct{}

func (panickingSnapshotter) SnapshotVolume(context.Context, *unstructured.Unstructured, map[string]string) (*arkv1.VolumeBackupInfo, error) {
	var m map[string]string
	m["boom"] = "x" // a provider's bug: assignment to entry in nil map
	return nil, nil
}

// A panic set off by one item (here in a volume provider) is an error of
// that item; every other item is backed up.
func TestPanicIsAnItemError(t *testing.T) {
	paths, res := run(t, arkv1.BackupSpec{}, panickingSnapshotter{}, fixture()...)
	if res.Errors != 2 || !strings.Contains(res.Problems[0].Message, "internal error") || !strings.Contains(res.Problems[0].Message, "nil map") {
		t.Fatalf("errors %d, problems %+v: want one per PV, naming the panic", res.Errors, res.Problems)
	}
	if !strings.Contains(sorted(paths), "configmaps/namespaces/b/cm2.json") || res.ResourceCounts["persistentvolumes"] != 2 {
		t.Fatalf("the other items must be backed up: %s", sorted(paths))
	}
}

func TestVolumesSnapshottedOnce(t *testing.T) {
	rec := &recordingSnapshotter{}
	_, res := run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}}, rec, fixture()...)
	if strings.Join(rec.seen, ",") != "vol:b" || res.VolumeBackups["vol"].SnapshotID != "snap-vol" {
		t.Fatalf("snapshots %v, volumeBackups %v", rec.seen, res.VolumeBackups)
	}
	rec = &recordingSnapshotter{}
	no := false
	run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}, SnapshotVolumes: &no}, rec, fixture()...)
	if len(rec.seen) != 0 {
		t.Fatalf("snapshotVolumes=false, yet %v", rec.seen)
	}
}

// A claim's spec.volumeName is written by whoever owns the claim. A tenant
// of namespace a naming b's volume there must not get b's volume, nor a
// snapshot of its data, into a backup of namespace a: a volume comes along
// with a claim only when its claimRef (written by the PV controller) names
// that claim, UID included.
func TestClaimCannotPullInAnotherNamespacesVolume(t *testing.T) {
	claim := func(ns, name, uid, volume string) runtime.Object {
		o := obj("v1", "PersistentVolumeClaim", ns, name, nil, map[string]interface{}{"spec": map[string]interface{}{"volumeName": volume}})
		o.SetUID(types.UID(uid))
		return o
	}
	pv := func(name string, claimRef map[string]interface{}) runtime.Object {
		spec := map[string]interface{}{}
		if claimRef != nil {
			spec["claimRef"] = claimRef
		}
		return obj("v1", "PersistentVolume", "", name, nil, map[string]interface{}{"spec": spec})
	}
	objs := []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		obj("v1", "Namespace", "", "b", nil, nil),
		claim("a", "mine", "uid-mine", "pv-a"),
		pv("pv-a", map[string]interface{}{"namespace": "a", "name": "mine", "uid": "uid-mine"}),
		claim("b", "data", "uid-b", "pv-b"),
		pv("pv-b", map[string]interface{}{"namespace": "b", "name": "data", "uid": "uid-b"}),
		claim("a", "steal", "uid-steal", "pv-b"),
		// Bound to an earlier claim a/old (another UID) and then Released.
		claim("a", "old", "uid-new", "pv-released"),
		pv("pv-released", map[string]interface{}{"namespace": "a", "name": "old", "uid": "uid-gone"}),
		claim("a", "early", "uid-early", "pv-free"),
		pv("pv-free", nil),
	}
	rec := &recordingSnapshotter{}
	paths, res := run(t, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}}, rec, objs...)
	got := sorted(paths)
	for _, leaked := range []string{"pv-b", "pv-released", "pv-free"} {
		if strings.Contains(got, "persistentvolumes/cluster/"+leaked+".json") {
			t.Errorf("%s came into a backup of namespace a: %s", leaked, got)
		}
	}
	if !strings.Contains(got, "persistentvolumes/cluster/pv-a.json") {
		t.Errorf("pv-a, bound to a/mine, must come along: %s", got)
	}
	if strings.Join(rec.seen, ",") != "pv-a:b" {
		t.Errorf("snapshots taken: %v, want only pv-a", rec.seen)
	}
	warned := map[string]string{}
	for _, p := range res.Problems {
		warned[p.Namespace+"/"+p.Name] = p.Message
	}
	for claim, want := range map[string]string{"a/steal": "bound to claim b/data", "a/old": "earlier claim", "a/early": "bound to no claim"} {
		if !strings.Contains(warned[claim], want) {
			t.Errorf("claim %s: warning %q, want one saying %q", claim, warned[claim], want)
		}
	}
	if res.Errors != 0 || res.Warnings != 3 {
		t.Errorf("errors %d warnings %d (%+v), want 0 and 3", res.Errors, res.Warnings, res.Problems)
	}
}

func TestMissingClaimIsAWarning(t *testing.T) {
	objs := []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		obj("v1", "Pod", "a", "pod", nil, map[string]interface{}{"spec": map[string]interface{}{
			"volumes": []interface{}{map[string]interface{}{"name": "d", "persistentVolumeClaim": map[string]interface{}{"claimName": "gone"}}},
		}}),
	}
	_, res := run(t, arkv1.BackupSpec{}, nil, objs...)
	if res.Warnings != 1 || res.Errors != 0 || !strings.Contains(res.Problems[0].Message, "does not exist") {
		t.Fatalf("want one warning about the missing claim, got %+v", res)
	}
}

// A pod's claimName may be any length the API server stores. Pods of one
// tenant quoting missing claims of 300 KiB names must not make the
// backup's recorded problems (its status and metadata file) larger than the
// API server accepts, which would keep every cluster backup from being
// recorded.
func TestRecordedProblemsAreBounded(t *testing.T) {
	objs := []runtime.Object{obj("v1", "Namespace", "", "a", nil, nil)}
	for i := range 60 {
		claim := fmt.Sprintf("%03d-%s", i, strings.Repeat("c", 300<<10))
		objs = append(objs, obj("v1", "Pod", "a", fmt.Sprintf("pod-%d", i), nil, map[string]interface{}{"spec": map[string]interface{}{
			"volumes": []interface{}{map[string]interface{}{"name": "d", "persistentVolumeClaim": map[string]interface{}{"claimName": claim}}},
		}}))
	}
	_, res := run(t, arkv1.BackupSpec{}, nil, objs...)
	if res.Warnings != 60 || len(res.Problems) != maxRecordedProblems {
		t.Fatalf("warnings %d, recorded %d: want 60 and %d", res.Warnings, len(res.Problems), maxRecordedProblems)
	}
	data, err := json.Marshal(res.Problems)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 100<<10 {
		t.Errorf("recorded problems take %d bytes; they must stay far below the API server's 1.5 MiB request limit", len(data))
	}
	p := res.Problems[0]
	if !strings.HasPrefix(p.Name, "000-ccc") || !strings.Contains(p.Name, fmt.Sprintf("(%d bytes;", 4+300<<10)) {
		t.Errorf("clipped name %.80q... does not say how long the name was", p.Name)
	}
}

func TestValidate(t *testing.T) {
	d, _ := fakeCluster(t)
	errs := Validate(arkv1.BackupSpec{
		IncludedNamespaces: []string{"a"}, ExcludedNamespaces: []string{"a"},
		IncludedResources: []string{"widgets"},
		LabelSelector:     &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}},
	}, d)
	if len(errs) != 3 {
		t.Fatalf("want 3 problems, got %q", errs)
	}
}

// Kubernetes accepts RBAC-style names (any path segment) that are no DNS
// names: a backslash, a tab, a newline, 10 KiB. Such an object is backed up
// like any other, and the backup stays whole.
func TestUnusualNamesAreBackedUp(t *testing.T) {
	names := []string{`domain\user`, "tab\tname", "line\nbreak", "ünï😀", strings.Repeat("r", 10<<10), "Admin", "admin"}
	objs := []runtime.Object{obj("v1", "Namespace", "", "a", nil, nil)}
	for _, n := range names {
		objs = append(objs, obj("v1", "ConfigMap", "a", n, nil, nil))
	}
	d, dyn := fakeCluster(t, objs...)
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{Backup: &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, Discovery: d, Dynamic: dyn}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.ResourceCounts["configmaps"] != len(names) {
		t.Fatalf("errors %d %v, configmaps %d", res.Errors, res.Problems, res.ResourceCounts["configmaps"])
	}
	r, err := archive.NewReader(&buf, archive.Limits{RequireIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for {
		item, data, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if item.Resource == "configmaps" {
			got[item.Name] = true
			var u unstructured.Unstructured
			if err := u.UnmarshalJSON(data); err != nil || u.GetName() != item.Name {
				t.Fatalf("entry of %q holds %q (%v)", item.Name, u.GetName(), err)
			}
		}
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("%q is not in the archive", n)
		}
	}
}

// An object the archive cannot hold (here, larger than any restore accepts)
// is a per-item error: the other objects are backed up and the archive is
// complete, so the backup ends PartiallyFailed, not Failed.
func TestItemTheArchiveRefusesIsAPerItemError(t *testing.T) {
	huge := strings.Repeat("x", int(archive.DefaultMaxEntrySize))
	objs := append(fixture(), obj("v1", "ConfigMap", "a", "huge", nil, map[string]interface{}{"data": map[string]interface{}{"blob": huge}}))
	paths, res := run(t, arkv1.BackupSpec{}, nil, objs...)
	if res.Errors != 1 || len(res.Problems) != 1 || res.Problems[0].Name != "huge" || !strings.Contains(res.Problems[0].Message, "more than") {
		t.Fatalf("errors %d, problems %+v", res.Errors, res.Problems)
	}
	if strings.Contains(strings.Join(paths, " "), "huge") || len(paths) == 0 {
		t.Fatalf("archive holds %v", paths)
	}
	if res.ResourceCounts["configmaps"] != 2 {
		t.Fatalf("configmaps backed up: %d, want the 2 others", res.ResourceCounts["configmaps"])
	}
}

type brokenUpload struct{}

func (brokenUpload) Write([]byte) (int, error) { return 0, errors.New("upload: connection reset") }

// When the archive stream itself fails, the backup fails.
func TestBrokenUploadFailsTheBackup(t *testing.T) {
	many := fixture()
	for i := range 2000 {
		many = append(many, obj("v1", "ConfigMap", "a", fmt.Sprintf("cm-%d-%s", i, strings.Repeat("p", 100)), nil, map[string]interface{}{"data": map[string]interface{}{"k": fmt.Sprint(i * 7919)}}))
	}
	d, dyn := fakeCluster(t, many...)
	_, err := Run(context.Background(), Options{Backup: &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, Discovery: d, Dynamic: dyn}, brokenUpload{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Run = %v, want the upload's error", err)
	}
}
