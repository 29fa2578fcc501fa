package kube

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Resource is one kind of object the cluster serves that Ark can back up and
// restore: it supports list and create.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	ShortNames []string
	Singular   string
}

// GroupResource is the resource's name in archives and filters
// ("configmaps", "deployments.apps").
func (r Resource) GroupResource() schema.GroupResource { return r.GVR.GroupResource() }

// Discovery caches the cluster's preferred resources, and every version in
// which each is served. Refresh reloads them (the server calls it before each
// backup and restore, so new CRDs count).
type Discovery struct {
	client discovery.DiscoveryInterface

	mu        sync.RWMutex
	resources []Resource
	byGR      map[schema.GroupResource]Resource
	versions  map[schema.GroupResource][]string
	failed    []FailedGroup
}

// FailedGroup is an API group version whose resources could not be
// discovered (an aggregated API whose server is down): whatever it serves is
// unknown, so an operation that wanted everything did not get it.
type FailedGroup struct {
	GroupVersion schema.GroupVersion
	Err          error
}

// NewDiscovery loads the resources the cluster serves.
func NewDiscovery(client discovery.DiscoveryInterface) (*Discovery, error) {
	d := &Discovery{client: client}
	return d, d.Refresh()
}

// Offline is the Discovery of no cluster: it serves nothing, so resource
// names resolve only against what callers know (a backup's resources). It
// cannot Refresh.
func Offline() *Discovery {
	return &Discovery{byGR: map[schema.GroupResource]Resource{}, versions: map[schema.GroupResource][]string{}}
}

// Refresh reloads the resource list. A group that fails to answer (an
// aggregated API that is down) is skipped rather than failing everything,
// and listed by FailedGroups, so the operations can say what they missed.
func (d *Discovery) Refresh() error {
	if d.client == nil {
		return fmt.Errorf("discovering the cluster's resources: there is no cluster (offline)")
	}
	groups, lists, err := discovery.ServerGroupsAndResources(d.client)
	if err != nil && len(lists) == 0 {
		return fmt.Errorf("discovering the cluster's resources: %w", err)
	}
	var failed []FailedGroup
	if groupErr := (*discovery.ErrGroupDiscoveryFailed)(nil); errors.As(err, &groupErr) {
		for gv, gerr := range groupErr.Groups {
			failed = append(failed, FailedGroup{GroupVersion: gv, Err: gerr})
		}
		sort.Slice(failed, func(i, j int) bool { return failed[i].GroupVersion.String() < failed[j].GroupVersion.String() })
	} else if err != nil {
		// Some groups answered and some did not, without saying which.
		failed = []FailedGroup{{Err: err}}
	}
	served := servedVersions(groups, lists)
	var resources []Resource
	byGR := map[schema.GroupResource]Resource{}
	versions := map[schema.GroupResource][]string{}
	for gr, s := range served {
		ar := s.preferred
		if !hasVerbs(ar, "list", "create") {
			continue // resources Ark could not restore
		}
		r := Resource{
			GVR:        gr.WithVersion(s.preferredVersion),
			Kind:       ar.Kind,
			Namespaced: ar.Namespaced,
			ShortNames: ar.ShortNames,
			Singular:   ar.SingularName,
		}
		resources = append(resources, r)
		byGR[gr] = r
		versions[gr] = s.versions
	}
	sort.Slice(resources, func(i, j int) bool {
		return resources[i].GroupResource().String() < resources[j].GroupResource().String()
	})
	d.mu.Lock()
	d.resources, d.byGR, d.versions, d.failed = resources, byGR, versions, failed
	d.mu.Unlock()
	return nil
}

// FailedGroups lists the group versions the last Refresh could not
// discover, sorted.
func (d *Discovery) FailedGroups() []FailedGroup {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]FailedGroup(nil), d.failed...)
}

func hasVerbs(ar metav1.APIResource, verbs ...string) bool {
	have := map[string]bool{}
	for _, v := range ar.Verbs {
		have[v] = true
	}
	for _, v := range verbs {
		if !have[v] {
			return false
		}
	}
	return true
}

// Resources returns every backup-able resource, sorted by group resource.
func (d *Discovery) Resources() []Resource {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]Resource(nil), d.resources...)
}

// Versions returns the versions in which the cluster serves a group
// resource that can be listed and created, in the priority order of its API
// group (the preferred one first when it serves the resource).
func (d *Discovery) Versions(gr schema.GroupResource) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]string(nil), d.versions[gr]...)
}

// ForGroupResource returns the served resource of a group resource.
func (d *Discovery) ForGroupResource(gr schema.GroupResource) (Resource, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r, ok := d.byGR[gr]
	return r, ok
}

// Resolve turns what a user types ("deployments", "deploy", "Deployment",
// "deployments.apps", "deploy.apps") into the served resource. A name that
// matches in several groups resolves to the core group, else is ambiguous.
func (d *Discovery) Resolve(name string) (Resource, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	want := strings.ToLower(strings.TrimSpace(name))
	var matches []Resource
	for _, r := range d.resources {
		if matchesName(r, want) {
			matches = append(matches, r)
		}
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) == 0:
		return Resource{}, fmt.Errorf("unknown resource %q: the cluster serves no such resource that can be listed and created (see 'kubectl api-resources'; use resource, resource.group or a short name)", name)
	}
	for _, m := range matches {
		if m.GVR.Group == "" {
			return m, nil
		}
	}
	var names []string
	for _, m := range matches {
		names = append(names, m.GroupResource().String())
	}
	return Resource{}, fmt.Errorf("resource %q is ambiguous: it matches %s; name one with resource.group", name, strings.Join(names, ", "))
}

func matchesName(r Resource, want string) bool {
	candidates := append([]string{r.GVR.Resource, r.Singular, strings.ToLower(r.Kind)}, r.ShortNames...)
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if want == c || (r.GVR.Group != "" && want == c+"."+r.GVR.Group) {
			return true
		}
	}
	return false
}
