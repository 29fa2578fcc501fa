package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServerStatusRequestPhase is whether the server has answered.
// +kubebuilder:validation:Enum=New;Processed
type ServerStatusRequestPhase string

const (
	ServerStatusRequestPhaseNew       ServerStatusRequestPhase = "New"
	ServerStatusRequestPhaseProcessed ServerStatusRequestPhase = "Processed"
)

// PluginInfo is one plugin the server loaded.
type PluginInfo struct {
	// Kind is objectstore, blockstore, backupitemaction or restoreitemaction.
	Kind string `json:"kind"`
	// Name is the plugin's name, e.g. example.com/mystore.
	Name string `json:"name"`
	// Binary is the file in the server's plugin directory that serves it.
	Binary string `json:"binary"`
	// Version is what the binary says its version is.
	// +optional
	Version string `json:"version,omitempty"`
}

// ServerStatusRequestStatus is the server's answer.
type ServerStatusRequestStatus struct {
	// +optional
	Phase ServerStatusRequestPhase `json:"phase,omitempty"`
	// ProcessedTimestamp is when the server answered; the server deletes
	// the request a minute later.
	// +optional
	// +nullable
	ProcessedTimestamp *metav1.Time `json:"processedTimestamp,omitempty"`
	// ServerVersion is the version of the ark binary the server runs.
	// +optional
	ServerVersion string `json:"serverVersion,omitempty"`
	// PluginDir is the directory the server loaded plugins from.
	// +optional
	PluginDir string `json:"pluginDir,omitempty"`
	// Plugins are the plugins the server loaded.
	// +optional
	Plugins []PluginInfo `json:"plugins,omitempty"`
	// PluginErrors are the binaries of the plugin directory the server
	// could not load, with the reason.
	// +optional
	PluginErrors []string `json:"pluginErrors,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=serverstatusrequests,scope=Namespaced
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ServerStatusRequest asks the running server what it is: its version and
// the plugins it loaded (`ark plugin get`), which only the server can see.
type ServerStatusRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Status ServerStatusRequestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ServerStatusRequestList is a list of ServerStatusRequests.
type ServerStatusRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServerStatusRequest `json:"items"`
}

func init() { SchemeBuilder.Register(&ServerStatusRequest{}, &ServerStatusRequestList{}) }
