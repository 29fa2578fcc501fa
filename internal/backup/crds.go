package backup

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/kube"
)

var crdResource = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}

// backupCRDOf writes the CustomResourceDefinition that defines r, once r
// has items in the backup, so that a restore into a cluster without it can
// create the custom resources. It is brought along whatever the namespace
// and cluster-scope settings say (a backup of one namespace's custom
// resources needs it as much as a full one), unless the user excluded
// CustomResourceDefinitions by name.
func (e *engine) backupCRDOf(ctx context.Context, r kube.Resource) error {
	group := r.GVR.Group
	// Every CRD's group has a dot; the built-in groups without one (apps,
	// batch, policy ...) are not worth a lookup.
	if !strings.Contains(group, ".") || e.resources.Excludes(crdResource.String()) {
		return nil
	}
	crds, ok := e.Discovery.ForGroupResource(crdResource)
	if !ok {
		return nil
	}
	name := r.GVR.Resource + "." + group
	if e.pulledIn[crdResource.String()+"//"+name] {
		return nil
	}
	item, err := e.Dynamic.Resource(crds.GVR).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // served by an aggregated API server or built in, not by a CRD
	}
	if err != nil {
		e.problem("warning", crdResource.String(), "", name, fmt.Sprintf("the CustomResourceDefinition of %s could not be read, so it is not in the backup: %v", r.GroupResource(), err))
		return nil
	}
	e.progress.TotalItems++
	e.Log.Info("bringing along the CustomResourceDefinition of backed-up custom resources", "crd", name)
	return e.backupItem(ctx, crds, item)
}
