package kube

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

func fakeMultiVersion() *fakediscovery.FakeDiscovery {
	verbs := metav1.Verbs{"create", "list", "get"}
	res := func(name, kind string, namespaced bool, v ...string) metav1.APIResource {
		r := metav1.APIResource{Name: name, Kind: kind, Namespaced: namespaced, Verbs: verbs}
		if len(v) > 0 {
			r.Verbs = metav1.Verbs(v)
		}
		return r
	}
	// FakeDiscovery makes the first version listed of a group its preferred
	// one, and lists the group's versions in this order.
	return &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{res("configmaps", "ConfigMap", true), res("pods/log", "Pod", true)}},
		{GroupVersion: "autoscaling/v2", APIResources: []metav1.APIResource{res("horizontalpodautoscalers", "HorizontalPodAutoscaler", true)}},
		{GroupVersion: "autoscaling/v1", APIResources: []metav1.APIResource{res("horizontalpodautoscalers", "HorizontalPodAutoscaler", true)}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{res("widgets", "Widget", true)}},
		{GroupVersion: "example.com/v1beta1", APIResources: []metav1.APIResource{res("widgets", "Widget", true), res("gadgets", "Gadget", false), res("readonly", "ReadOnly", false, "list")}},
		{GroupVersion: "example.com/v1alpha1", APIResources: []metav1.APIResource{res("widgets", "Widget", true, "get"), res("gadgets", "Gadget", false)}},
	}}}
}

func TestVersions(t *testing.T) {
	d, err := NewDiscovery(fakeMultiVersion())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[schema.GroupResource][]string{
		{Resource: "configmaps"}:                                     {"v1"},
		{Group: "autoscaling", Resource: "horizontalpodautoscalers"}: {"v2", "v1"},
		{Group: "example.com", Resource: "widgets"}:                  {"v1", "v1beta1"}, // v1alpha1 cannot create
		{Group: "example.com", Resource: "gadgets"}:                  {"v1beta1", "v1alpha1"},
		{Group: "example.com", Resource: "readonly"}:                 nil,
		{Group: "example.com", Resource: "missing"}:                  nil,
	}
	for gr, want := range cases {
		if got := d.Versions(gr); !slices.Equal(got, want) {
			t.Errorf("Versions(%s) = %v, want %v", gr, got, want)
		}
	}
}

// One discovery pass gives the same preferred resources as client-go's
// ServerPreferredResources.
func TestPreferredResourcesMatchClientGo(t *testing.T) {
	fake := fakeMultiVersion()
	d, err := NewDiscovery(fake)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := discovery.ServerPreferredResources(fake)
	if err != nil {
		t.Fatal(err)
	}
	want := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, ar := range l.APIResources {
			if hasVerbs(ar, "list", "create") {
				want[gv.WithResource(ar.Name)] = true
			}
		}
	}
	got := map[schema.GroupVersionResource]bool{}
	for _, r := range d.Resources() {
		got[r.GVR] = true
	}
	if len(got) != len(want) {
		t.Fatalf("resources %v, client-go prefers %v", got, want)
	}
	for gvr := range want {
		if !got[gvr] {
			t.Errorf("client-go prefers %s, Discovery does not", gvr)
		}
	}
}
