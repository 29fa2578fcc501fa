package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupSpec says what to back up.
type BackupSpec struct {
	// IncludedNamespaces lists namespaces to include; empty or "*" means all.
	// +optional
	IncludedNamespaces []string `json:"includedNamespaces,omitempty"`
	// ExcludedNamespaces lists namespaces to leave out.
	// +optional
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// IncludedResources lists resources (resource, resource.group or short
	// name) to include; empty or "*" means all.
	// +optional
	IncludedResources []string `json:"includedResources,omitempty"`
	// ExcludedResources lists resources to leave out.
	// +optional
	ExcludedResources []string `json:"excludedResources,omitempty"`
	// LabelSelector restricts the backup to objects with matching labels.
	// +optional
	// +nullable
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// SnapshotVolumes says whether to snapshot persistent volumes; nil means
	// yes when a persistentVolumeProvider is configured.
	// +optional
	// +nullable
	SnapshotVolumes *bool `json:"snapshotVolumes,omitempty"`
	// TTL is how long the backup is kept before garbage collection.
	// +optional
	TTL metav1.Duration `json:"ttl,omitempty"`
	// IncludeClusterResources says whether cluster-scoped resources are
	// included. nil: only when every namespace is backed up (plus PVs that
	// namespaced items pull in).
	// +optional
	// +nullable
	IncludeClusterResources *bool `json:"includeClusterResources,omitempty"`
	// Hooks are commands run in pods around their backup.
	// +optional
	Hooks BackupHooks `json:"hooks,omitempty"`
	// Cancel asks the server to stop the backup: a New one never starts, an
	// InProgress one stops within seconds and deletes what it wrote (its
	// files and the volume snapshots it took). Either ends Cancelled. It
	// does nothing to a finished backup. Set by `ark backup cancel`.
	// +optional
	Cancel bool `json:"cancel,omitempty"`
}

// BackupHooks holds the hook specs of a backup.
type BackupHooks struct {
	// +optional
	Resources []BackupResourceHookSpec `json:"resources,omitempty"`
}

// BackupResourceHookSpec selects pods and the hooks to run in them
// (docs/hooks.md). A pod's hook annotations take precedence over it.
type BackupResourceHookSpec struct {
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
	// Hooks is the deprecated alias of Pre; they run before Pre's.
	// +optional
	Hooks []BackupResourceHook `json:"hooks,omitempty"`
	// Pre hooks run before the pod is backed up.
	// +optional
	Pre []BackupResourceHook `json:"pre,omitempty"`
	// Post hooks run after the pod and what it pulls in (claims, volumes,
	// their snapshots) are backed up, whatever happened to them.
	// +optional
	Post []BackupResourceHook `json:"post,omitempty"`
}

// BackupResourceHook is one hook.
type BackupResourceHook struct {
	Exec *ExecHook `json:"exec"`
}

// HookErrorMode says what a failing hook does to the backup.
// +kubebuilder:validation:Enum=Continue;Fail
type HookErrorMode string

const (
	HookErrorModeContinue HookErrorMode = "Continue"
	HookErrorModeFail     HookErrorMode = "Fail"
)

// ExecHook runs a command in a container of a pod.
type ExecHook struct {
	// Container defaults to the pod's first container.
	// +optional
	Container string   `json:"container,omitempty"`
	Command   []string `json:"command"`
	// OnError defaults to Fail: the pod and its volumes are not backed up
	// (post hooks still run) and the backup is PartiallyFailed. Continue
	// makes a failure a warning.
	// +optional
	OnError HookErrorMode `json:"onError,omitempty"`
	// Timeout bounds the command; default 30s.
	// +optional
	Timeout metav1.Duration `json:"timeout,omitempty"`
}

// BackupPhase is where a backup is in its life.
// +kubebuilder:validation:Enum=New;FailedValidation;InProgress;Completed;PartiallyFailed;Failed;Cancelled;Deleting
type BackupPhase string

const (
	BackupPhaseNew              BackupPhase = "New"
	BackupPhaseFailedValidation BackupPhase = "FailedValidation"
	BackupPhaseInProgress       BackupPhase = "InProgress"
	// BackupPhaseCompleted: the archive, metadata and log are all in object storage.
	BackupPhaseCompleted BackupPhase = "Completed"
	// BackupPhasePartiallyFailed: the archive is complete but some items failed.
	BackupPhasePartiallyFailed BackupPhase = "PartiallyFailed"
	BackupPhaseFailed          BackupPhase = "Failed"
	// BackupPhaseCancelled: spec.cancel stopped the backup; nothing of it
	// is kept in object storage (failureReason says what was removed).
	BackupPhaseCancelled BackupPhase = "Cancelled"
	// BackupPhaseDeleting: a DeleteBackupRequest is removing the backup.
	BackupPhaseDeleting BackupPhase = "Deleting"
)

// BackupStatus is what the server observed and did.
type BackupStatus struct {
	// Version is the format version of the backup archive.
	// +optional
	Version int `json:"version,omitempty"`
	// +optional
	// +nullable
	Expiration *metav1.Time `json:"expiration,omitempty"`
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`
	// VolumeBackups maps a PersistentVolume's name to its snapshot.
	// +optional
	VolumeBackups map[string]*VolumeBackupInfo `json:"volumeBackups,omitempty"`
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`
	// +optional
	// +nullable
	StartTimestamp *metav1.Time `json:"startTimestamp,omitempty"`
	// +optional
	// +nullable
	CompletionTimestamp *metav1.Time `json:"completionTimestamp,omitempty"`
	// Warnings counts problems that did not fail an item.
	// +optional
	Warnings int `json:"warnings,omitempty"`
	// Errors counts items that could not be backed up.
	// +optional
	Errors int `json:"errors,omitempty"`
	// FailureReason says why a backup Failed, or what a cancelled one
	// removed.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
	// +optional
	// +nullable
	Progress *BackupProgress `json:"progress,omitempty"`
	// Archive describes the tar.gz in object storage, for integrity checks.
	// +optional
	// +nullable
	Archive *ArchiveInfo `json:"archive,omitempty"`
	// ResourceCounts maps "resource[.group]" to the number of items backed up.
	// +optional
	ResourceCounts map[string]int `json:"resourceCounts,omitempty"`
	// Problems lists the first warnings and errors with their reasons; the
	// full list is in the backup log.
	// +optional
	Problems []Problem `json:"problems,omitempty"`
	// HookStatus counts the pre and post hooks run in pods.
	// +optional
	// +nullable
	HookStatus *HookStatus `json:"hookStatus,omitempty"`
	// Conditions are observations of the backup after it finished: Verified
	// says whether its archive, read back from object storage, passed every
	// check of `ark backup verify` (reason and message say which failed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastVerified is when the server last read the archive back from
	// object storage and verified it, whatever the result; the Verified
	// condition's lastTransitionTime is when the result last changed.
	// +optional
	// +nullable
	LastVerified *metav1.Time `json:"lastVerified,omitempty"`
	// Encryption says how the archive and the log were encrypted before
	// they left the server; nil means they were not.
	// +optional
	// +nullable
	Encryption *BackupEncryption `json:"encryption,omitempty"`
}

// BackupEncryption records the key an encrypted backup needs.
type BackupEncryption struct {
	// Format is the encryption format of the archive and log: "age" (the
	// age-encryption.org/v1 format: X25519 recipients, ChaCha20-Poly1305 in
	// 64 KiB authenticated chunks).
	Format string `json:"format"`
	// Recipient is the public key (age1...) the files were encrypted to:
	// the identity that matches it is needed to read them.
	Recipient string `json:"recipient"`
	// SecretName is the Secret (in the server's namespace) that held the
	// key when the backup was made.
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// BackupConditionVerified is the condition type of a backup's verification.
const BackupConditionVerified = "Verified"

// BackupProgress counts items as the backup runs.
type BackupProgress struct {
	// +optional
	TotalItems int `json:"totalItems,omitempty"`
	// +optional
	ItemsBackedUp int `json:"itemsBackedUp,omitempty"`
	// CurrentResource is the resource being listed or written.
	// +optional
	CurrentResource string `json:"currentResource,omitempty"`
}

// ArchiveInfo is the digest and size of a backup's tar.gz.
type ArchiveInfo struct {
	// SHA256 and Size are those of the object in the bucket: of the
	// ciphertext when the backup is encrypted, so the stored file can be
	// checked without the key.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// +optional
	Items int `json:"items,omitempty"`
	// PlaintextSHA256 and PlaintextSize are those of the tar.gz before
	// encryption (set only for an encrypted backup; otherwise they equal
	// SHA256 and Size). The archive's own index holds the digests of the
	// items inside it.
	// +optional
	PlaintextSHA256 string `json:"plaintextSHA256,omitempty"`
	// +optional
	PlaintextSize int64 `json:"plaintextSize,omitempty"`
}

// Problem is one warning or error, located where it happened.
type Problem struct {
	// Severity is "warning" or "error".
	Severity string `json:"severity"`
	// +optional
	Resource string `json:"resource,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Name    string `json:"name,omitempty"`
	Message string `json:"message"`
}

// VolumeBackupInfo records one volume snapshot.
type VolumeBackupInfo struct {
	SnapshotID string `json:"snapshotID"`
	// +optional
	Type string `json:"type,omitempty"`
	// +optional
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// +optional
	// +nullable
	Iops *int64 `json:"iops,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=backups,scope=Namespaced
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Items",type=integer,JSONPath=`.status.progress.itemsBackedUp`
// +kubebuilder:printcolumn:name="Errors",type=integer,JSONPath=`.status.errors`
// +kubebuilder:printcolumn:name="Verified",type=string,JSONPath=`.status.conditions[?(@.type=="Verified")].status`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.status.expiration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Backup is a request to back up the cluster, and its result.
type Backup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec BackupSpec `json:"spec,omitempty"`
	// +optional
	Status BackupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupList is a list of Backups.
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Backup `json:"items"`
}

func init() { SchemeBuilder.Register(&Backup{}, &BackupList{}) }
