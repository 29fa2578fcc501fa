package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RestoreSpec says which backup to restore and what of it.
type RestoreSpec struct {
	// BackupName is the backup to restore from.
	BackupName string `json:"backupName"`
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
	// UnverifiedArchive is set when the backup's archive has no index
	// (written by Heptio Ark or Velero), so its items could not be checked
	// one by one: it says who wrote it and what was checked.
	// +optional
	UnverifiedArchive string `json:"unverifiedArchive,omitempty"`
	// FilesConfigMap names the ConfigMap, in the restore's namespace, that
	// holds the restore's log and results when its backup's location is
	// read-only for Ark (it holds another tool's backups). Empty: they are
	// in object storage with the backup.
	// +optional
	FilesConfigMap string `json:"filesConfigMap,omitempty"`
}

// Keys of a restore's FilesConfigMap: the gzipped log, and the gzipped
// results ({"warnings": RestoreResult, "errors": RestoreResult}) as stored in
// object storage.
const (
	RestoreFilesLogKey     = "restore-log.gz"
	RestoreFilesResultsKey = "restore-results.gz"
)

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
