package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RestoreSpec says which backup to restore and what of it.
type RestoreSpec struct {
	// BackupName is the backup to restore from. With ScheduleName it may
	// be empty: the server then sets it to the schedule's newest Completed
	// backup.
	// +optional
	BackupName string `json:"backupName"`
	// ScheduleName restores the newest Completed backup of this schedule
	// (the server picks it when the restore starts and records it in
	// backupName).
	// +optional
	ScheduleName string `json:"scheduleName,omitempty"`
	// +optional
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// +optional
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// +optional
	IncludedResources []string `json:"includedResources,omitempty"`
	// +optional
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// NamespaceMapping restores the items of a backed-up namespace (key) into
	// another namespace (value).
	// +optional
	NamespaceMapping map[string]string `json:"namespaceMapping,omitempty"`
	// +optional
	// +nullable
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// RestorePVs says whether to create volumes from the backup's snapshots;
	// nil means yes when the backup has snapshots.
	// +optional
	// +nullable
	RestorePVs *bool `json:"restorePVs,omitempty"`
	// +optional
	// +nullable
	IncludeClusterResources *bool `json:"includeClusterResources,omitempty"`
	// ExistingResourcePolicy says what happens to an object that already
	// exists: "none" (the default) leaves it as it is with a warning;
	// "update" patches it to the backed-up state (labels, annotations,
	// spec, data). An existing object is never deleted.
	// +optional
	ExistingResourcePolicy ExistingResourcePolicy `json:"existingResourcePolicy,omitempty"`
	// ResourceModifier names a ConfigMap, in the restore's namespace, of
	// rules that patch matching items before they are created.
	// +optional
	// +nullable
	ResourceModifier *ResourceModifierReference `json:"resourceModifier,omitempty"`
	// RestoreStatus restores the status of the items of these resources,
	// through their status subresource, after they are created.
	// +optional
	// +nullable
	RestoreStatus *RestoreStatusSpec `json:"restoreStatus,omitempty"`
	// PreserveNodePorts keeps the node ports of Services as they were backed
	// up instead of letting the cluster allocate new ones.
	// +optional
	// +nullable
	PreserveNodePorts *bool `json:"preserveNodePorts,omitempty"`
}

// ExistingResourcePolicy is what a restore does to objects that exist.
// +kubebuilder:validation:Enum=none;update
type ExistingResourcePolicy string

const (
	// ExistingResourcePolicyNone leaves existing objects as they are.
	ExistingResourcePolicyNone ExistingResourcePolicy = "none"
	// ExistingResourcePolicyUpdate patches them to the backed-up state.
	ExistingResourcePolicyUpdate ExistingResourcePolicy = "update"
)

// ResourceModifierReference names the ConfigMap of a restore's resource
// modifier rules.
type ResourceModifierReference struct {
	// Kind is ConfigMap, the only kind that holds rules.
	// +kubebuilder:validation:Enum=ConfigMap
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name is the ConfigMap's name, in the restore's namespace.
	Name string `json:"name"`
}

// RestoreStatusSpec selects the resources whose status is restored.
type RestoreStatusSpec struct {
	// IncludedResources lists resources (resource, resource.group or short
	// name) whose status is restored; "*" means all.
	// +optional
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources lists resources whose status is not restored.
	// +optional
	ExcludedResources []string `json:"excludedResources,omitempty"`
}

// RestorePhase is where a restore is in its life.
// +kubebuilder:validation:Enum=New;FailedValidation;InProgress;Completed;PartiallyFailed;Failed
type RestorePhase string

const (
	RestorePhaseNew              RestorePhase = "New"
	RestorePhaseFailedValidation RestorePhase = "FailedValidation"
	RestorePhaseInProgress       RestorePhase = "InProgress"
	RestorePhaseCompleted        RestorePhase = "Completed"
	RestorePhasePartiallyFailed  RestorePhase = "PartiallyFailed"
	RestorePhaseFailed           RestorePhase = "Failed"
)

// RestoreStatus is what the server did.
type RestoreStatus struct {
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`
	// +optional
	Warnings int `json:"warnings,omitempty"`
	// +optional
	Errors int `json:"errors,omitempty"`
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
	// +optional
	// +nullable
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// +optional
	// +nullable
	CompletionTimestamp *metav1.Time `json:"completionTimestamp,omitempty"`
	// +optional
	// +nullable
	Progress *RestoreProgress `json:"progress,omitempty"`
	// ItemsUpdated counts the existing objects patched to the backed-up
	// state (existingResourcePolicy update).
	// +optional
	ItemsUpdated int `json:"itemsUpdated,omitempty"`
	// ItemsUnchanged counts the existing objects found identical to the
	// backed-up state (existingResourcePolicy update).
	// +optional
	ItemsUnchanged int `json:"itemsUnchanged,omitempty"`
}

// RestoreProgress counts items as the restore runs.
type RestoreProgress struct {
	// +optional
	TotalItems int `json:"totalItems,omitempty"`
	// +optional
	ItemsRestored int `json:"itemsRestored,omitempty"`
	// +optional
	CurrentResource string `json:"currentResource,omitempty"`
}

// RestoreResult groups messages by where they happened. It is stored, gzipped,
// in object storage as restore-<name>-results.gz ({warnings, errors}).
type RestoreResult struct {
	// Ark holds problems of Ark itself (reading the backup, ...).
	// +optional
	Ark []string `json:"ark,omitempty"`
	// Cluster holds problems of cluster-scoped items.
	// +optional
	Cluster []string `json:"cluster,omitempty"`
	// Namespaces holds problems of namespaced items, by target namespace.
	// +optional
	Namespaces map[string][]string `json:"namespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=restores,scope=Namespaced
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Warnings",type=integer,JSONPath=`.status.warnings`
// +kubebuilder:printcolumn:name="Errors",type=integer,JSONPath=`.status.errors`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Restore is a request to restore a backup, and its result.
type Restore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec RestoreSpec `json:"spec,omitempty"`
	// +optional
	Status RestoreStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RestoreList is a list of Restores.
type RestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Restore `json:"items"`
}

func init() { SchemeBuilder.Register(&Restore{}, &RestoreList{}) }
