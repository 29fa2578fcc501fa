package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
	// Cancel asks the server to stop the restore: a New one never starts,
	// an InProgress one stops creating objects, keeps those it created and
	// ends Cancelled with the counts of what was and was not restored. Set
	// by `ark restore cancel`.
	// +optional
	Cancel bool `json:"cancel,omitempty"`
	// DryRun previews the restore: the whole plan runs through the API
	// server's own dry run (dryRun=All), so admission, schemas and quotas
	// are checked by the cluster, and nothing is created. The restore ends
	// Previewed, with a plan of what each item would do.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Hooks add init containers to restored pods and run commands in them
	// once they are Running (docs/hooks.md).
	// +optional
	Hooks RestoreHooks `json:"hooks,omitempty"`
}

// RestoreHooks holds the hook specs of a restore.
type RestoreHooks struct {
	// +optional
	Resources []RestoreResourceHookSpec `json:"resources,omitempty"`
}

// RestoreResourceHookSpec selects restored pods and the hooks they get. The
// namespaces are those of the backup, before any namespaceMapping, like the
// restore's own namespace lists.
type RestoreResourceHookSpec struct {
	Name string `json:"name"`
	// +optional
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// +optional
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// IncludedResources may only name pods (hooks run in pods).
	// +optional
	IncludedResources []string `json:"includedResources,omitempty"`
	// +optional
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// +optional
	// +nullable
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// PostHooks run in the order given: init hooks add their containers
	// before the pod's own init containers; exec hooks run once the pod is
	// Running.
	// +optional
	PostHooks []RestoreResourceHook `json:"postHooks,omitempty"`
}

// RestoreResourceHook is one hook: exactly one of Exec and Init.
type RestoreResourceHook struct {
	// +optional
	// +nullable
	Exec *ExecRestoreHook `json:"exec,omitempty"`
	// +optional
	// +nullable
	Init *InitRestoreHook `json:"init,omitempty"`
}

// ExecRestoreHook runs a command in a container of a restored pod once the
// container is running.
type ExecRestoreHook struct {
	// Container defaults to the pod's first container.
	// +optional
	Container string   `json:"container,omitempty"`
	Command   []string `json:"command"`
	// OnError defaults to Continue: a failure is a warning. Fail makes the
	// restore PartiallyFailed and skips the pod's remaining exec hooks.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`
	// ExecTimeout bounds the command; default 30s.
	// +optional
	ExecTimeout metav1.Duration `json:"execTimeout,omitempty"`
	// WaitTimeout bounds the wait for the container to be running, from the
	// moment the pod is created; default 10m.
	// +optional
	WaitTimeout metav1.Duration `json:"waitTimeout,omitempty"`
}

// InitRestoreHook adds init containers to a restored pod.
type InitRestoreHook struct {
	// InitContainers are Kubernetes containers (name, image, command,
	// volumeMounts, ...); they run before the pod's own init containers.
	InitContainers []runtime.RawExtension `json:"initContainers"`
}

// HookStatus counts the hooks an operation ran.
type HookStatus struct {
	// HooksAttempted counts the hooks that were run (or tried).
	// +optional
	HooksAttempted int `json:"hooksAttempted,omitempty"`
	// HooksFailed counts those that failed, whatever their onError.
	// +optional
	HooksFailed int `json:"hooksFailed,omitempty"`
}

// RestorePhase is where a restore is in its life.
// +kubebuilder:validation:Enum=New;FailedValidation;InProgress;Completed;PartiallyFailed;Failed;Previewed;Cancelled
type RestorePhase string

const (
	RestorePhaseNew              RestorePhase = "New"
	RestorePhaseFailedValidation RestorePhase = "FailedValidation"
	RestorePhaseInProgress       RestorePhase = "InProgress"
	RestorePhaseCompleted        RestorePhase = "Completed"
	RestorePhasePartiallyFailed  RestorePhase = "PartiallyFailed"
	RestorePhaseFailed           RestorePhase = "Failed"
	// RestorePhasePreviewed: a dry run finished; nothing was created, and
	// status.plan (with the plan file in object storage) says what a
	// restore would do.
	RestorePhasePreviewed RestorePhase = "Previewed"
	// RestorePhaseCancelled: spec.cancel stopped the restore; what it had
	// created stays (status.progress counts it).
	RestorePhaseCancelled RestorePhase = "Cancelled"
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
	// HookStatus counts the exec hooks run in restored pods.
	// +optional
	// +nullable
	HookStatus *HookStatus `json:"hookStatus,omitempty"`
	// Plan counts what a dry run found; set only for spec.dryRun. The plan
	// of every item is in object storage (`ark restore describe --details`).
	// +optional
	// +nullable
	Plan *RestorePlanSummary `json:"plan,omitempty"`
}

// RestorePlanSummary counts the items of a dry run by what a restore would
// do with them.
type RestorePlanSummary struct {
	// WouldCreate: the API server accepted the item's dry-run create.
	// +optional
	WouldCreate int `json:"wouldCreate,omitempty"`
	// Identical: the object exists and is what the backup holds.
	// +optional
	Identical int `json:"identical,omitempty"`
	// Differs: the object exists and differs from the backup; a restore
	// leaves it as it is.
	// +optional
	Differs int `json:"differs,omitempty"`
	// WouldFail: the API server refused the item's dry-run create.
	// +optional
	WouldFail int `json:"wouldFail,omitempty"`
	// NotChecked: the API server could not check the item before something
	// else the restore creates first (its namespace, its CRD).
	// +optional
	NotChecked int `json:"notChecked,omitempty"`
}

// RestoreProgress counts items as the restore runs.
type RestoreProgress struct {
	// +optional
	TotalItems int `json:"totalItems,omitempty"`
	// +optional
	ItemsRestored int `json:"itemsRestored,omitempty"`
	// ItemsNotRestored counts, for a cancelled restore, the items of
	// TotalItems it did not create: those it never reached, and those its
	// results list as already there or failed.
	// +optional
	ItemsNotRestored int `json:"itemsNotRestored,omitempty"`
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
