package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CloudProviderConfig names a provider and its settings.
type CloudProviderConfig struct {
	Name string `json:"name"`
	// +optional
	Config map[string]string `json:"config,omitempty"`
}

// ObjectStorageProviderConfig is a provider plus the bucket Ark writes to.
type ObjectStorageProviderConfig struct {
	CloudProviderConfig `json:",inline"`
	Bucket              string `json:"bucket"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=configs,scope=Namespaced
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.backupStorageProvider.name`
// +kubebuilder:printcolumn:name="Bucket",type=string,JSONPath=`.backupStorageProvider.bucket`
// +kubebuilder:printcolumn:name="Volumes",type=string,JSONPath=`.persistentVolumeProvider.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Config is the server's configuration. The server reads the one named
// "default" in its namespace. Like Heptio Ark's, its fields are at the top
// level (there is no spec).
type Config struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// PersistentVolumeProvider snapshots volumes; optional.
	// +optional
	// +nullable
	PersistentVolumeProvider *CloudProviderConfig `json:"persistentVolumeProvider,omitempty"`
	// BackupStorageProvider is where backups are stored.
	BackupStorageProvider ObjectStorageProviderConfig `json:"backupStorageProvider"`
	// BackupSyncPeriod is how often backups in object storage are synced into
	// the cluster (default 60m, at least 1m).
	// +optional
	BackupSyncPeriod metav1.Duration `json:"backupSyncPeriod,omitempty"`
	// GCSyncPeriod is how often expired backups are deleted (default 60m, at least 1m).
	// +optional
	GCSyncPeriod metav1.Duration `json:"gcSyncPeriod,omitempty"`
	// ScheduleSyncPeriod is how often schedules are checked (default 1m).
	// +optional
	ScheduleSyncPeriod metav1.Duration `json:"scheduleSyncPeriod,omitempty"`
	// BackupVerificationPeriod is how often every finished backup's archive
	// is read back from object storage and verified again (default 168h,
	// weekly; at least 1m). Each new backup is verified once right after it
	// is written, whatever the period.
	// +optional
	BackupVerificationPeriod metav1.Duration `json:"backupVerificationPeriod,omitempty"`
	// ResourcePriorities orders the restore: these resources first, in this
	// order, then the rest alphabetically.
	// +optional
	ResourcePriorities []string `json:"resourcePriorities,omitempty"`
	// RestoreOnlyMode turns off backups, schedules and garbage collection.
	// +optional
	RestoreOnlyMode bool `json:"restoreOnlyMode,omitempty"`
	// Retention is the retention of the schedules that set none of their
	// own (see Schedule spec.retention).
	// +optional
	// +nullable
	Retention *RetentionPolicy `json:"retention,omitempty"`
	// Encryption turns on client-side encryption: the archive and the log
	// of every new backup are encrypted on the server before they are
	// uploaded. See docs/encryption.md.
	// +optional
	// +nullable
	Encryption *EncryptionConfig `json:"encryption,omitempty"`
}

// EncryptionConfig names the Secret holding the keys of client-side
// encryption.
type EncryptionConfig struct {
	// SecretName is a Secret in the server's namespace whose data holds age
	// identities (AGE-SECRET-KEY-1..., one a line, as age-keygen writes
	// them). New backups are encrypted to the first; every one listed can
	// read the backups made with it, so rotating a key is adding a new one
	// at the top and keeping the old ones while backups made with them are
	// kept.
	SecretName string `json:"secretName"`
	// Key is the key of the Secret's data that holds the identities;
	// default "identities".
	// +optional
	Key string `json:"key,omitempty"`
}

// +kubebuilder:object:root=true

// ConfigList is a list of Configs.
type ConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Config `json:"items"`
}

func init() { SchemeBuilder.Register(&Config{}, &ConfigList{}) }
