package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

// pagedConfigMaps serves n ConfigMaps of namespace "a" by pages of the
// requested size, with continue tokens that are offsets; expire decides,
// for the k-th request that carries a token, whether that token has
// expired, and with which token (if any) the 410 answers.
type pagedConfigMaps struct {
	items    []unstructured.Unstructured
	requests int
	expire   func(k int, offset int) (expired bool, next string)
}

func (p *pagedConfigMaps) list(opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	if opts.Limit <= 0 {
		return nil, fmt.Errorf("unpaginated LIST")
	}
	offset := 0
	if opts.Continue != "" {
		p.requests++
		offset, _ = strconv.Atoi(opts.Continue)
		if expired, next := p.expire(p.requests, offset); expired {
			st := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result.")
			st.ErrStatus.ListMeta.Continue = next
			st.ErrStatus.Code = http.StatusGone
			return nil, st
		}
	}
	end := min(offset+int(opts.Limit), len(p.items))
	list := &unstructured.UnstructuredList{Object: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMapList"}}
	list.Items = append(list.Items, p.items[offset:end]...)
	if end < len(p.items) {
		list.SetContinue(strconv.Itoa(end))
	}
	return list, nil
}

// pagedDynamic is client-go's fake dynamic client, whose LIST knows neither
// limits nor continue tokens, except that ConfigMaps are listed by p.
type pagedDynamic struct {
	dynamic.Interface
	p *pagedConfigMaps
}

func (d pagedDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	r := d.Interface.Resource(gvr)
	if gvr.Resource == "configmaps" {
		return pagedResource{r, d.p}
	}
	return r
}

type pagedResource struct {
	dynamic.NamespaceableResourceInterface
	p *pagedConfigMaps
}

func (r pagedResource) Namespace(string) dynamic.ResourceInterface { return r }

func (r pagedResource) List(_ context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return r.p.list(opts)
}

func runPaged(t *testing.T, p *pagedConfigMaps, n int) ([]string, *Result) {
	t.Helper()
	for i := range n {
		p.items = append(p.items, *obj("v1", "ConfigMap", "a", fmt.Sprintf("cm-%03d", i), nil, nil))
	}
	d, dyn := fakeCluster(t, obj("v1", "Namespace", "", "a", nil, nil))
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{
		Backup:    &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: arkv1.BackupSpec{IncludedResources: []string{"configmaps"}}},
		Discovery: d, Dynamic: pagedDynamic{dyn, p}, PageSize: 4,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.NewReader(&buf, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		item, _, err := r.Next()
		if err != nil {
			break
		}
		if item.Resource == "configmaps" {
			names = append(names, item.Name)
		}
	}
	return names, res
}

func checkEveryConfigMapOnce(t *testing.T, names []string, n int, res *Result) {
	t.Helper()
	seen := map[string]int{}
	for _, name := range names {
		seen[name]++
	}
	for i := range n {
		name := fmt.Sprintf("cm-%03d", i)
		if seen[name] != 1 {
			t.Errorf("%s written %d times, want once", name, seen[name])
		}
	}
	if len(names) != n {
		t.Errorf("%d ConfigMaps written, want %d", len(names), n)
	}
	if res.Errors != 0 || res.ResourceCounts["configmaps"] != n {
		t.Errorf("errors %d, counts %v: %+v", res.Errors, res.ResourceCounts, res.Problems)
	}
}

// The continue token expires in the middle of the LIST (a slow upload held
// the next page back past etcd's compaction): the LIST is taken up again,
// and every item is in the archive exactly once.
func TestExpiredContinueTokenRelistsWithoutLossOrDuplicates(t *testing.T) {
	const n = 23
	t.Run("the 410 carries a token that goes on", func(t *testing.T) {
		p := &pagedConfigMaps{expire: func(k, offset int) (bool, string) {
			if k == 2 {
				return true, strconv.Itoa(offset) // the API server's inconsistent continuation
			}
			return false, ""
		}}
		names, res := runPaged(t, p, n)
		checkEveryConfigMapOnce(t, names, n, res)
	})
	t.Run("the 410 carries no token: from the start, skipping what was written", func(t *testing.T) {
		p := &pagedConfigMaps{expire: func(k, _ int) (bool, string) { return k == 3 || k == 6, "" }}
		names, res := runPaged(t, p, n)
		checkEveryConfigMapOnce(t, names, n, res)
	})
	t.Run("a token that always expires ends in an error naming the cause", func(t *testing.T) {
		p := &pagedConfigMaps{expire: func(int, int) (bool, string) { return true, "" }}
		_, res := runPaged(t, p, n)
		if res.Errors != 1 || len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "continue token expired") {
			t.Fatalf("errors %d, problems %+v: want one error about the expired token", res.Errors, res.Problems)
		}
	})
}

// failingGroupDiscovery is client-go's fake discovery, except that one
// group version does not answer, as an aggregated API whose server is down.
type failingGroupDiscovery struct {
	*fakediscovery.FakeDiscovery
	broken string
}

func (f *failingGroupDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if gv == f.broken {
		return nil, errors.New("the server is currently unable to handle the request")
	}
	return f.FakeDiscovery.ServerResourcesForGroupVersion(gv)
}

func (f *failingGroupDiscovery) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	return discovery.ServerGroupsAndResources(f)
}

// A group whose discovery fails is not silently dropped: a backup of
// everything records it as an error naming the group, so it is not called
// Completed; a backup of named resources, which it cannot concern, does not.
func TestAFailedAPIGroupShowsInTheBackup(t *testing.T) {
	fake := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	fake.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "namespaces", Kind: "Namespace", Verbs: verbs},
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: verbs},
		}},
		{GroupVersion: "metrics.example.com/v1beta1", APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs},
		}},
	}
	d, err := kube.NewDiscovery(&failingGroupDiscovery{FakeDiscovery: fake, broken: "metrics.example.com/v1beta1"})
	if err != nil {
		t.Fatal(err)
	}
	failed := d.FailedGroups()
	if len(failed) != 1 || failed[0].GroupVersion != (schema.GroupVersion{Group: "metrics.example.com", Version: "v1beta1"}) {
		t.Fatalf("failed groups %+v", failed)
	}
	_, dyn := fakeCluster(t, obj("v1", "Namespace", "", "a", nil, nil), obj("v1", "ConfigMap", "a", "cm", nil, nil))
	backup := func(spec arkv1.BackupSpec) *Result {
		res, err := Run(context.Background(), Options{Backup: &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: spec},
			Discovery: d, Dynamic: dyn}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := backup(arkv1.BackupSpec{})
	if res.Errors != 1 || len(res.Problems) != 1 || res.Problems[0].Resource != "metrics.example.com/v1beta1" ||
		!strings.Contains(res.Problems[0].Message, "could not be discovered") {
		t.Fatalf("errors %d, problems %+v: want one naming metrics.example.com/v1beta1", res.Errors, res.Problems)
	}
	if res.ResourceCounts["configmaps"] != 1 {
		t.Errorf("the rest of the cluster was not backed up: %v", res.ResourceCounts)
	}
	if res := backup(arkv1.BackupSpec{IncludedResources: []string{"configmaps"}}); res.Errors != 0 {
		t.Errorf("a backup of configmaps only reported %+v", res.Problems)
	}
}

// The first pages of a resource's LISTs in several namespaces are fetched
// ahead (firstPages); the archive must still hold every item once, with
// the OR terms of the selectors, each namespace's items together.
func TestPrefetchedFirstPagesKeepEveryItem(t *testing.T) {
	var objs []runtime.Object
	var namespaces, want []string
	for i := range 2*prefetchWindow + 1 {
		ns := fmt.Sprintf("ns%02d", i)
		namespaces = append(namespaces, ns)
		objs = append(objs, obj("v1", "Namespace", "", ns, nil, nil))
		for j, app := range []string{"x", "y", "z"} { // z matches no term
			objs = append(objs, obj("v1", "ConfigMap", ns, fmt.Sprintf("cm%d", j), map[string]string{"app": app}, nil))
			if app != "z" {
				want = append(want, "resources/configmaps/namespaces/"+ns+"/cm"+strconv.Itoa(j)+".json")
			}
		}
	}
	paths, res := run(t, arkv1.BackupSpec{IncludedNamespaces: namespaces, IncludedResources: []string{"configmaps"},
		OrLabelSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"app": "x"}}, {MatchLabels: map[string]string{"app": "y"}}}}, nil, objs...)
	var got []string
	done := map[string]bool{} // namespaces whose items are behind us
	current := ""
	for _, p := range paths {
		if !strings.HasPrefix(p, "resources/configmaps/") {
			continue
		}
		got = append(got, p)
		ns := strings.Split(p, "/")[3]
		if ns != current {
			if done[ns] {
				t.Errorf("the items of namespace %s are not together: %s comes after another namespace's", ns, p)
			}
			done[current], current = true, ns
		}
	}
	if sorted(got) != sorted(want) {
		t.Errorf("archive's configmaps:\n%s\nwant each OR term's matches once:\n%s", sorted(got), sorted(want))
	}
	if res.Errors != 0 {
		t.Errorf("%d errors", res.Errors)
	}
}
