package schedule

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/api/v1"
)

// A schedule's name is carried by its backups in a label, limited to 63
// characters; that must not limit the schedule's name, only the length of
// its backups' names (<schedule>-<YYYYMMDDHHMMSS>) does.
func TestValidateAcceptsNamesUpToTheBackupNameLimit(t *testing.T) {
	for _, n := range []int{1, 49, 63, 64, arkv1.MaxScheduleNameLength} {
		s := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("s", n)}, Spec: arkv1.ScheduleSpec{Schedule: "@daily"}}
		if _, problems := Validate(s); len(problems) > 0 {
			t.Errorf("a %d-character name: %v", n, problems)
		}
		backup := BackupName(s.Name, time.Now())
		if errs := validation.IsDNS1123Subdomain(backup); len(errs) > 0 {
			t.Errorf("backup name %q: %v", backup, errs)
		}
	}
	s := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("s", arkv1.MaxScheduleNameLength+1)}, Spec: arkv1.ScheduleSpec{Schedule: "@daily"}}
	_, problems := Validate(s)
	if len(problems) != 1 || !strings.Contains(problems[0], "at most 238 characters") {
		t.Errorf("a name one character too long: %v", problems)
	}
}
