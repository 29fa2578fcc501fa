package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DownloadTargetKind is what a DownloadRequest fetches.
// +kubebuilder:validation:Enum=BackupLog;BackupContents;RestoreLog;RestoreResults;RestorePlan
type DownloadTargetKind string

const (
	DownloadTargetKindBackupLog      DownloadTargetKind = "BackupLog"
	DownloadTargetKindBackupContents DownloadTargetKind = "BackupContents"
	DownloadTargetKindRestoreLog     DownloadTargetKind = "RestoreLog"
	DownloadTargetKindRestoreResults DownloadTargetKind = "RestoreResults"
	// DownloadTargetKindRestorePlan is a dry-run restore's plan.
	DownloadTargetKindRestorePlan DownloadTargetKind = "RestorePlan"
)

// DownloadTarget names the file to download.
type DownloadTarget struct {
	Kind DownloadTargetKind `json:"kind"`
	// Name is the backup's or restore's name.
	Name string `json:"name"`
}

// DownloadRequestSpec says what to download.
type DownloadRequestSpec struct {
	Target DownloadTarget `json:"target"`
}

// DownloadRequestPhase is whether the URL is ready.
// +kubebuilder:validation:Enum=New;Processed;Failed
type DownloadRequestPhase string

const (
	DownloadRequestPhaseNew       DownloadRequestPhase = "New"
	DownloadRequestPhaseProcessed DownloadRequestPhase = "Processed"
	DownloadRequestPhaseFailed    DownloadRequestPhase = "Failed"
)

// DownloadRequestStatus carries the signed URL.
type DownloadRequestStatus struct {
	// +optional
	Phase DownloadRequestPhase `json:"phase,omitempty"`
	// +optional
	DownloadURL string `json:"downloadURL,omitempty"`
	// +optional
	// +nullable
	Expiration *metav1.Time `json:"expiration,omitempty"`
	// FailureReason says why no URL could be made.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=downloadrequests,scope=Namespaced
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.target.kind`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.target.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DownloadRequest asks the server for a signed URL of a backup's or restore's file.
type DownloadRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec DownloadRequestSpec `json:"spec,omitempty"`
	// +optional
	Status DownloadRequestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DownloadRequestList is a list of DownloadRequests.
type DownloadRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DownloadRequest `json:"items"`
}

func init() { SchemeBuilder.Register(&DownloadRequest{}, &DownloadRequestList{}) }
