// Package v1 contains the ark.heptio.com/v1 API: Backup, Restore, Schedule,
// Config, DownloadRequest and DeleteBackupRequest.
// +kubebuilder:object:generate=true
// +groupName=ark.heptio.com
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// SchemeGroupVersion is the group and version of every Ark resource.
	SchemeGroupVersion = schema.GroupVersion{Group: "ark.heptio.com", Version: "v1"}
	// SchemeBuilder registers the Ark types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: SchemeGroupVersion}
	// AddToScheme adds every Ark type to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns the GroupResource of an Ark resource (e.g. "backups").
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}
