package restore

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/version"

	"github.com/heptio/ark/internal/archive"
)

// versionChoice is the copy of a resource's items that a restore reads: the
// unversioned one, or one API version directory of the archive (Velero 1.4+
// archives, and Ark's backups of every served version).
type versionChoice struct {
	version   string // "" for the unversioned copy
	preferred bool   // the directory is "<version>-preferredversion"
	listing   *archive.Listing
	// unserved is set when the archive holds the resource only in versions
	// the cluster does not serve: each item fails with it.
	unserved string
}

// item is the archive item of a name in this copy.
func (c versionChoice) item(resource, namespace, name string) archive.Item {
	return archive.Item{Resource: resource, Version: c.version, Preferred: c.preferred, Namespace: namespace, Name: name}
}

// chooseVersion picks the copy of a resource to restore. Without version
// directories it is the unversioned copy, whose objects are created in the
// version they were backed up in. With them, it is the version the cluster
// serves, preferring the backup's preferred version, then the cluster's
// preferred one, then the highest by Kubernetes' version priority (v2 > v1 >
// v1beta2 > v1alpha1). When the cluster serves none of the archive's
// versions, the choice carries the reason, naming both sides' versions.
// served lists the cluster's versions of the resource, preferred first.
func chooseVersion(key string, ri *archive.ResourceItems, served []string) versionChoice {
	if len(ri.Versions) == 0 {
		return versionChoice{listing: &ri.Listing}
	}
	var common []string
	for v := range ri.Versions {
		if slices.Contains(served, v) {
			common = append(common, v)
		}
	}
	pick := func(v string) versionChoice {
		return versionChoice{version: v, preferred: v == ri.PreferredVersion, listing: ri.Versions[v]}
	}
	switch {
	case ri.PreferredVersion != "" && slices.Contains(common, ri.PreferredVersion):
		return pick(ri.PreferredVersion)
	case len(served) > 0 && slices.Contains(common, served[0]):
		return pick(served[0])
	case len(common) > 0:
		slices.SortFunc(common, version.CompareKubeAwareVersionStrings)
		return pick(common[len(common)-1])
	}
	// Report against the copy the backup preferred, else the unversioned one.
	c := versionChoice{listing: &ri.Listing}
	if l := ri.Versions[ri.PreferredVersion]; l != nil {
		c = pick(ri.PreferredVersion)
	}
	noun := "version"
	if len(ri.Versions) > 1 {
		noun = "versions"
	}
	c.unserved = fmt.Sprintf("the backup holds %s in %s %s, and this cluster serves %s", key, noun, describeVersions(ri), describeServed(served))
	return c
}

func describeVersions(ri *archive.ResourceItems) string {
	var vs []string
	for v := range ri.Versions {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b string) int { return version.CompareKubeAwareVersionStrings(b, a) })
	for i, v := range vs {
		if v == ri.PreferredVersion {
			vs[i] = v + " (preferred)"
		}
	}
	return strings.Join(vs, ", ")
}

func describeServed(served []string) string {
	if len(served) == 0 {
		return "none of them"
	}
	return "only " + strings.Join(served, ", ")
}

// chooseVersionAgain redoes a tier's choice of version with what the cluster
// serves when the tier starts, and corrects the restore's total.
func (r *restorer) chooseVersionAgain(t *tier) {
	before := t.total
	t.choose(r.opts.Discovery, r.nsFilter, r.spec.IncludeClusterResources)
	r.total.Add(int64(t.total - before))
	if t.copy.version != "" {
		r.log.Info("restoring one version of the resource", "resource", t.key, "version", t.copy.version)
	}
}
