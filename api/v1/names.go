package v1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Object names go up to 253 characters, label values only to 63. Ark puts
// names in labels (the backup of a Restore or DeleteBackupRequest, the
// schedule of a Backup, the restore of a restored object) so that kubectl and
// `-l` can select by them; this file is the one place that turns a name into
// a label value and back, for the CLI and the server alike.
//
// The scheme: a name that is a valid label value is its own label value.
// Any other name becomes the first labelPrefixLength characters of the name
// (characters a label value cannot hold replaced by '-', leading ones
// dropped), a '-', and the first labelHashLength hex digits of the SHA-256
// of the whole name. The full name is always kept somewhere a lookup can
// read it: in the spec (a Restore's and a DeleteBackupRequest's
// spec.backupName) or in an annotation of the same key as the label
// (ScheduleNameAnnotation, RestoreNameAnnotation). A label only narrows a
// search; every lookup by label also compares the full name.

const (
	labelHashLength   = 10
	labelPrefixLength = validation.LabelValueMaxLength - 1 - labelHashLength

	// ScheduleNameAnnotation holds the full name of the schedule that made a
	// Backup; the ScheduleNameLabel may hold a shortened one.
	ScheduleNameAnnotation = "ark.heptio.com/schedule-name"
	// RestoreNameAnnotation holds the full name of the restore that made an
	// object, when its RestoreNameLabel had to be shortened.
	RestoreNameAnnotation = "ark.heptio.com/restore-name"

	// MaxNameLength is the longest name a Backup, Restore or Schedule may
	// have (a DNS subdomain, as the API server requires of custom objects).
	MaxNameLength = validation.DNS1123SubdomainMaxLength
	// scheduleTimestampLength is what ScheduleBackupName appends.
	scheduleTimestampLength = len("-20060102150405")
	// MaxScheduleNameLength is the longest schedule name whose backups'
	// names (<schedule>-<YYYYMMDDHHMMSS>) are still valid names.
	MaxScheduleNameLength = MaxNameLength - scheduleTimestampLength

	// maxGenerateNameBase is what the API server keeps of a generateName:
	// it cuts longer ones to leave room for its 5 random characters.
	maxGenerateNameBase = 63 - 5
)

// LabelValue is the value under which name is put in a label: name itself
// when it is a valid label value, else a shortened, hashed form (see above).
// Two different names never share a value unless their hashes collide, which
// is why lookups compare the full name too.
func LabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:labelHashLength]
	prefix := []byte(name)
	for i, c := range prefix {
		if !isLabelChar(c) {
			prefix[i] = '-'
		}
	}
	// A label value starts with an alphanumeric character.
	start := 0
	for start < len(prefix) && !isAlphanumeric(prefix[start]) {
		start++
	}
	prefix = prefix[start:]
	if len(prefix) > labelPrefixLength {
		prefix = prefix[:labelPrefixLength]
	}
	if len(prefix) == 0 {
		return hash
	}
	return string(prefix) + "-" + hash
}

func isLabelChar(c byte) bool {
	return isAlphanumeric(c) || c == '-' || c == '_' || c == '.'
}

func isAlphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// SetBackupNameLabel labels obj (a Restore or a DeleteBackupRequest) with
// the backup it is about, whose full name its spec.backupName holds.
func SetBackupNameLabel(obj metav1.Object, backup string) {
	setLabel(obj, BackupNameLabel, LabelValue(backup))
}

// SetScheduleName marks a Backup as made from schedule: the label (maybe
// shortened) for selectors, and the full name in ScheduleNameAnnotation.
func SetScheduleName(b *Backup, schedule string) {
	setLabel(b, ScheduleNameLabel, LabelValue(schedule))
	annotations := b.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[ScheduleNameAnnotation] = schedule
	b.SetAnnotations(annotations)
}

// ScheduleName is the name of the schedule that made b, or "" when none
// did. Backups made before the annotation existed have only the label,
// which then is the full name.
func ScheduleName(b *Backup) string {
	if name, ok := b.Annotations[ScheduleNameAnnotation]; ok {
		return name
	}
	return b.Labels[ScheduleNameLabel]
}

// ScheduleSelector is the label a List narrows a schedule's backups with;
// the caller keeps only those for which ScheduleName is schedule.
func ScheduleSelector(schedule string) map[string]string {
	return map[string]string{ScheduleNameLabel: LabelValue(schedule)}
}

// RestoreLabels are the label (and, for a name too long for a label value,
// the annotation) that mark an object made by restore.
func RestoreLabels(restore string) (labels, annotations map[string]string) {
	value := LabelValue(restore)
	labels = map[string]string{RestoreNameLabel: value}
	if value != restore {
		annotations = map[string]string{RestoreNameAnnotation: restore}
	}
	return labels, annotations
}

func setLabel(obj metav1.Object, key, value string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[key] = value
	obj.SetLabels(labels)
}

// GenerateNameBase is a generateName for objects named after name: the API
// server keeps only its first 58 characters, so it is cut there (never
// ending in '-' or '.', which would make an invalid name) and given the
// '-' before the random suffix.
func GenerateNameBase(name string) string {
	if len(name) > maxGenerateNameBase-1 {
		name = name[:maxGenerateNameBase-1]
	}
	return strings.TrimRight(name, "-.") + "-"
}

// RestoreName is the name `ark restore create BACKUP` gives a restore made
// at t: <backup>-<YYYYMMDDHHMMSS>, with the backup's name shortened (and a
// hash of it kept, so restores of two long names stay apart) when the
// whole would be longer than MaxNameLength.
func RestoreName(backup string, t time.Time) string {
	stamp := t.UTC().Format("20060102150405")
	if len(backup)+1+len(stamp) <= MaxNameLength {
		return backup + "-" + stamp
	}
	sum := sha256.Sum256([]byte(backup))
	hash := hex.EncodeToString(sum[:])[:labelHashLength]
	keep := MaxNameLength - len(stamp) - len(hash) - 2
	return strings.TrimRight(backup[:keep], "-.") + "-" + hash + "-" + stamp
}
