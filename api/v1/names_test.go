package v1

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestLabelValueKeepsValidNamesAndShortensTheRest(t *testing.T) {
	long := strings.Repeat("a", 60) + "-20180102030405"
	names := []string{
		"nginx-backup", strings.Repeat("x", 63), long, long + "x", "-" + long, "a_b.c",
		strings.Repeat("b", 253), strings.Repeat("c.", 126) + "c", "..." + strings.Repeat("d", 70),
	}
	seen := map[string]string{}
	for _, name := range names {
		v := LabelValue(name)
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("LabelValue(%q) = %q, not a valid label value: %v", name, v, errs)
		}
		if len(validation.IsValidLabelValue(name)) == 0 && v != name {
			t.Errorf("LabelValue(%q) = %q, want the name itself", name, v)
		}
		if other, dup := seen[v]; dup {
			t.Errorf("%q and %q share the label value %q", name, other, v)
		}
		seen[v] = name
	}
	if got := LabelValue(strings.Repeat("q", 80)); !strings.HasPrefix(got, strings.Repeat("q", labelPrefixLength)+"-") {
		t.Errorf("a long name's label value %q does not start with the name", got)
	}
}

func TestScheduleNameRoundTripsThroughLabelAndAnnotation(t *testing.T) {
	for _, schedule := range []string{"daily", strings.Repeat("s", 63), strings.Repeat("s", MaxScheduleNameLength)} {
		b := &Backup{}
		SetScheduleName(b, schedule)
		if got := ScheduleName(b); got != schedule {
			t.Errorf("ScheduleName = %q, want %q", got, schedule)
		}
		sel := ScheduleSelector(schedule)
		if b.Labels[ScheduleNameLabel] != sel[ScheduleNameLabel] {
			t.Errorf("the selector %v does not match the label %v", sel, b.Labels)
		}
	}
	// Backups made before the annotation: the label is the name.
	old := &Backup{}
	old.Labels = map[string]string{ScheduleNameLabel: "daily"}
	if got := ScheduleName(old); got != "daily" {
		t.Errorf("ScheduleName of an old backup = %q", got)
	}
}

func TestRestoreLabelsAnnotateOnlyShortenedNames(t *testing.T) {
	l, a := RestoreLabels("r1")
	if l[RestoreNameLabel] != "r1" || a != nil {
		t.Errorf("RestoreLabels(r1) = %v, %v", l, a)
	}
	long := strings.Repeat("r", 100)
	l, a = RestoreLabels(long)
	if l[RestoreNameLabel] != LabelValue(long) || a[RestoreNameAnnotation] != long {
		t.Errorf("RestoreLabels(long) = %v, %v", l, a)
	}
}

func TestDeleteBackupRequestOfALongBackupIsValid(t *testing.T) {
	name := strings.Repeat("b", 250) + ".x-y"
	r := NewDeleteBackupRequest("ns", name)
	if r.Spec.BackupName != name {
		t.Errorf("spec.backupName %q", r.Spec.BackupName)
	}
	if errs := validation.IsValidLabelValue(r.Labels[BackupNameLabel]); len(errs) > 0 {
		t.Errorf("label %q: %v", r.Labels[BackupNameLabel], errs)
	}
	checkGenerateName(t, r.GenerateName)
}

func TestGenerateNameBaseIsAValidPrefix(t *testing.T) {
	for _, name := range []string{"b", strings.Repeat("a", 56) + ".b", strings.Repeat("a", 57) + "-b", strings.Repeat("z", 253)} {
		checkGenerateName(t, GenerateNameBase(name))
	}
	if got := GenerateNameBase("nginx-backup"); got != "nginx-backup-" {
		t.Errorf("GenerateNameBase(nginx-backup) = %q", got)
	}
}

// checkGenerateName checks base as the API server does, with the five
// random characters it appends.
func checkGenerateName(t *testing.T, base string) {
	t.Helper()
	if len(base) > maxGenerateNameBase {
		t.Errorf("generateName %q is longer than the %d characters the API server keeps", base, maxGenerateNameBase)
	}
	if errs := validation.IsDNS1123Subdomain(base + "abcde"); len(errs) > 0 {
		t.Errorf("generateName %q makes invalid names: %v", base, errs)
	}
}

func TestRestoreNameIsAValidNameForEveryBackupName(t *testing.T) {
	at := time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := RestoreName("nginx-backup", at); got != "nginx-backup-20180102030405" {
		t.Errorf("RestoreName = %q", got)
	}
	seen := map[string]bool{}
	for _, backup := range []string{strings.Repeat("a", 238), strings.Repeat("a", 239), strings.Repeat("a", 253),
		strings.Repeat("a", 252) + "b", strings.Repeat("a.", 126) + "a"} {
		got := RestoreName(backup, at)
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("RestoreName(%d chars) = %q: %v", len(backup), got, errs)
		}
		if seen[got] {
			t.Errorf("two backups share the restore name %q", got)
		}
		seen[got] = true
	}
}
