package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeleteBackupRequestSpec names the backup to delete.
type DeleteBackupRequestSpec struct {
	BackupName string `json:"backupName"`
}

// DeleteBackupRequestPhase is where a deletion is.
// +kubebuilder:validation:Enum=New;InProgress;Processed
type DeleteBackupRequestPhase string

const (
	DeleteBackupRequestPhaseNew        DeleteBackupRequestPhase = "New"
	DeleteBackupRequestPhaseInProgress DeleteBackupRequestPhase = "InProgress"
	DeleteBackupRequestPhaseProcessed  DeleteBackupRequestPhase = "Processed"
)

// DeleteBackupRequestStatus is what the deletion did.
type DeleteBackupRequestStatus struct {
	// +optional
	Phase DeleteBackupRequestPhase `json:"phase,omitempty"`
	// Errors lists what could not be deleted; empty when Processed means done.
	// +optional
	Errors []string `json:"errors,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=deletebackuprequests,scope=Namespaced
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DeleteBackupRequest asks the server to delete a backup and everything it
// stored: volume snapshots, files in object storage, its Restores, then the
// Backup object.
type DeleteBackupRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec DeleteBackupRequestSpec `json:"spec,omitempty"`
	// +optional
	Status DeleteBackupRequestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DeleteBackupRequestList is a list of DeleteBackupRequests.
type DeleteBackupRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeleteBackupRequest `json:"items"`
}

func init() { SchemeBuilder.Register(&DeleteBackupRequest{}, &DeleteBackupRequestList{}) }

// NewDeleteBackupRequest is the request to delete backup in namespace, as
// `ark backup delete` and garbage collection both make it: named after the
// backup and labelled with it (LabelValue: a long name is shortened), so the
// requests of a backup can be listed; spec.backupName has the full name.
func NewDeleteBackupRequest(namespace, backup string) *DeleteBackupRequest {
	r := &DeleteBackupRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: GenerateNameBase(backup)},
		Spec:       DeleteBackupRequestSpec{BackupName: backup},
	}
	SetBackupNameLabel(r, backup)
	return r
}
