package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScheduleSpec is a backup template and when to run it.
type ScheduleSpec struct {
	// Template is the spec of every backup the schedule creates.
	Template BackupSpec `json:"template"`
	// Schedule is a 5-field cron expression or a descriptor (@every 6h, @daily).
	Schedule string `json:"schedule"`
	// Retention keeps a number of the schedule's backups and deletes the
	// others, in addition to their TTL. Unset: the Config's retention, if
	// any. Whatever it says, the schedule's newest Completed backup is
	// never deleted by expiry.
	// +optional
	// +nullable
	Retention *RetentionPolicy `json:"retention,omitempty"`
}

// RetentionPolicy says how many backups of a schedule to keep, by count
// and by calendar period (grandfather-father-son). A backup kept by no
// rule is deleted; so is one older than its TTL. Periods are UTC: an hour,
// a day, an ISO week (Monday to Sunday), a calendar month. Each period rule
// keeps the newest backup of each of the last N periods that have one.
// Only backups that can be restored (Completed, PartiallyFailed) count; of
// two in one period, a Completed one is preferred. All zero: no count
// rule, only TTLs.
type RetentionPolicy struct {
	// KeepLast keeps the N newest backups.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepLast int `json:"keepLast,omitempty"`
	// KeepHourly keeps the newest backup of each of the last N hours.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepHourly int `json:"keepHourly,omitempty"`
	// KeepDaily keeps the newest backup of each of the last N days.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepDaily int `json:"keepDaily,omitempty"`
	// KeepWeekly keeps the newest backup of each of the last N weeks.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepWeekly int `json:"keepWeekly,omitempty"`
	// KeepMonthly keeps the newest backup of each of the last N months.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepMonthly int `json:"keepMonthly,omitempty"`
}

// SchedulePhase is whether a schedule runs.
// +kubebuilder:validation:Enum=New;Enabled;FailedValidation
type SchedulePhase string

const (
	SchedulePhaseNew              SchedulePhase = "New"
	SchedulePhaseEnabled          SchedulePhase = "Enabled"
	SchedulePhaseFailedValidation SchedulePhase = "FailedValidation"
)

// ScheduleStatus is what the server did.
type ScheduleStatus struct {
	// +optional
	Phase SchedulePhase `json:"phase,omitempty"`
	// LastBackup is the due time of the last backup created.
	// +optional
	// +nullable
	LastBackup *metav1.Time `json:"lastBackup,omitempty"`
	// +optional
	ValidationErrors []string `json:"validationErrors,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=schedules,scope=Namespaced
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Last Backup",type=date,JSONPath=`.status.lastBackup`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Schedule creates backups on a cron schedule.
type Schedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec ScheduleSpec `json:"spec,omitempty"`
	// +optional
	Status ScheduleStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ScheduleList is a list of Schedules.
type ScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Schedule `json:"items"`
}

func init() { SchemeBuilder.Register(&Schedule{}, &ScheduleList{}) }
