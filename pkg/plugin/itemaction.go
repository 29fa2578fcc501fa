package plugin

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
)

// ResourceSelector says which items an action is called for. Every part that
// is set must match; the zero selector matches every item.
type ResourceSelector struct {
	// IncludedNamespaces and ExcludedNamespaces filter namespaced items by
	// namespace ("*" or empty includes all). Cluster-scoped items pass.
	IncludedNamespaces []string
	ExcludedNamespaces []string
	// IncludedResources and ExcludedResources name resources as `ark backup
	// create --include-resources` does: "pods", "deployments.apps", short
	// names and kinds are resolved against the cluster.
	IncludedResources []string
	ExcludedResources []string
	// LabelSelector is a label selector in kubectl's syntax ("app=nginx,tier!=db").
	LabelSelector string
}

// ResourceIdentifier names one object of the cluster.
type ResourceIdentifier struct {
	GroupResource schema.GroupResource
	Namespace     string
	Name          string
}

// BackupItemAction changes an item before it is written to a backup and may
// pull other items in with it. It is called for every item AppliesTo
// selects, from several goroutines at once.
type BackupItemAction interface {
	// AppliesTo is asked once per backup.
	AppliesTo() (ResourceSelector, error)
	// Execute returns the item to store (item itself, changed or not) and
	// the items to back up with it (they go through the backup's filters
	// and their own actions). The returned item must keep the item's kind,
	// namespace and name. An error fails this item only: the backup ends
	// PartiallyFailed, with the error in its problems.
	Execute(ctx context.Context, item *unstructured.Unstructured, backup *arkv1.Backup) (*unstructured.Unstructured, []ResourceIdentifier, error)
}

// RestoreItemAction changes an item before it is created by a restore. It
// is called for every item AppliesTo selects, from several goroutines at
// once.
type RestoreItemAction interface {
	// AppliesTo is asked once per restore.
	AppliesTo() (ResourceSelector, error)
	// Execute gets the item as it will be created (metadata reset, namespace
	// mapped, Ark's own changes made) and returns the item to create, which
	// must keep its kind, namespace and name. A warning ("" for none) goes
	// into the restore's warnings; an error fails this item only.
	Execute(ctx context.Context, item *unstructured.Unstructured, restore *arkv1.Restore) (*unstructured.Unstructured, string, error)
}
