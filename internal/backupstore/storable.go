package backupstore

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/api/v1"
)

// maxStoredBackupSize bounds the JSON of a Backup read from a bucket. Sync
// creates an object of it, and the API server (etcd) refuses objects much
// over 1.5 MiB: a larger one would fail every sync period with the server's
// error instead of once with this package's.
const maxStoredBackupSize = 1 << 20

// scheduleLabels are the labels with which the tools of the lineage mark the
// backups of a schedule: Velero's and Heptio Ark v0.10–v0.11's. Heptio Ark
// up to v0.9 used ark-schedule, as this Ark does.
var scheduleLabels = []string{"velero.io/schedule-name", "ark.heptio.com/schedule-name"}

// makeStorable turns a Backup read from a bucket into one the API server
// accepts, whatever the bucket holds: a name that is not an object name, or
// a Backup too large to store, is an error naming the file; labels and
// annotations the API server would refuse are left out (they stay in the
// bucket), since a backup is worth restoring without them. A schedule label
// of another tool becomes ark-schedule, so `ark backup get -l
// ark-schedule=NAME` and `ark schedule describe` find the backups another
// tool's schedule of that name made.
func makeStorable(b *arkv1.Backup, key string) error {
	if errs := validation.IsDNS1123Subdomain(b.Name); len(errs) > 0 {
		return fmt.Errorf("%s names backup %q, which cannot be a Kubernetes object's name (%s): rename its directory and the name in it to lowercase letters, digits, '-' and '.' to restore it", key, truncate(b.Name, 80), errs[0])
	}
	for _, l := range scheduleLabels {
		if v, ok := b.Labels[l]; ok && b.Labels[arkv1.ScheduleNameLabel] == "" {
			b.Labels[arkv1.ScheduleNameLabel] = v
		}
	}
	for k, v := range b.Labels {
		if len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			delete(b.Labels, k)
		}
	}
	keepAnnotations(b.Annotations)
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if len(data) > maxStoredBackupSize {
		return fmt.Errorf("%s describes a Backup of %d bytes, more than the %d a Kubernetes object can hold: it is not metadata any tool of Ark's lineage writes, so the backup is not synced (check what wrote it)", key, len(data), maxStoredBackupSize)
	}
	return nil
}

// keepAnnotations removes the annotations the API server would refuse: a
// key that is not a qualified name, and, once their total size passes the
// API server's limit (less room for the one sync adds), the longest ones.
func keepAnnotations(a map[string]string) {
	for k := range a {
		if len(validation.IsQualifiedName(strings.ToLower(k))) > 0 {
			delete(a, k)
		}
	}
	const budget = apivalidation.TotalAnnotationSizeLimitB - 1024
	total := 0
	keys := make([]string, 0, len(a))
	for k, v := range a {
		total += len(k) + len(v)
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		si, sj := len(keys[i])+len(a[keys[i]]), len(keys[j])+len(a[keys[j]])
		if si != sj {
			return si > sj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		if total <= budget {
			break
		}
		total -= len(k) + len(a[k])
		delete(a, k)
	}
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
