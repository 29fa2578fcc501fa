package backupstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore/memstore"
)

// veleroWith is a velero-backup.json of backup name whose metadata is meta
// (a JSON object's members) and status extra members.
func veleroWith(name, meta, status string) string {
	if meta != "" {
		meta = "," + meta
	}
	if status != "" {
		status = "," + status
	}
	return `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":` + jsonString(name) + meta + `},` +
		`"spec":{"ttl":"1h0m0s"},"status":{"version":1,"phase":"Completed"` + status + `}}`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// requireStorable fails unless the API server would accept b as an object:
// the checks it makes on a Backup's metadata, and the size etcd takes.
func requireStorable(t *testing.T, b *arkv1.Backup) {
	t.Helper()
	if errs := validation.IsDNS1123Subdomain(b.Name); len(errs) > 0 {
		t.Errorf("name %q: %v", b.Name, errs)
	}
	if errs := metavalidation.ValidateLabels(b.Labels, field.NewPath("labels")); len(errs) > 0 {
		t.Errorf("labels: %v", errs)
	}
	withSync := map[string]string{arkv1.FromStorageAnnotation: "true"}
	for k, v := range b.Annotations {
		withSync[k] = v
	}
	if errs := apivalidation.ValidateAnnotations(withSync, field.NewPath("annotations")); len(errs) > 0 {
		t.Errorf("annotations: %v", errs)
	}
	if data, _ := json.Marshal(b); len(data) > maxStoredBackupSize {
		t.Errorf("%d bytes", len(data))
	}
}

// A velero-backup.json crafted with odd or huge fields: the backup is synced
// without what the API server would refuse, or refused once with an error
// naming the file, never created to fail every sync period.
func TestHostileForeignMetadata(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("v", 64)
	huge := strings.Repeat("h", 300<<10)

	m := memstore.New("b")
	put(t, m, "backups/odd/velero-backup.json", veleroWith("odd",
		`"labels":{"velero.io/schedule-name":"daily","velero.io/storage-location":"default","bad key!":"x","long":"`+long+`","":"empty"},`+
			`"annotations":{"keep":"me","Bad Key":"x","huge":"`+huge+`"}`, ""))
	put(t, m, "backups/odd/odd.tar.gz", "x")
	b, err := New(m, "b", Options{}).GetMetadata(ctx, Ref{"odd", arkv1.BackupLayoutVelero})
	if err != nil {
		t.Fatal(err)
	}
	requireStorable(t, b)
	wantLabels := map[string]string{"velero.io/schedule-name": "daily", "velero.io/storage-location": "default", arkv1.ScheduleNameLabel: "daily"}
	if fmt.Sprint(b.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v, want %v", b.Labels, wantLabels)
	}
	if fmt.Sprint(b.Annotations) != fmt.Sprint(map[string]string{"keep": "me"}) {
		t.Errorf("annotations %.200v", b.Annotations)
	}

	// Heptio Ark v0.10's schedule label too; an ark-schedule already there
	// is kept.
	m = memstore.New("b")
	put(t, m, "backups/a/ark-backup.json", `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"a","labels":{"ark.heptio.com/schedule-name":"nightly"}},"status":{"phase":"Completed"}}`)
	put(t, m, "backups/v/velero-backup.json", veleroWith("v", `"labels":{"velero.io/schedule-name":"daily","ark-schedule":"mine"}`, ""))
	s := New(m, "b", Options{})
	if a, err := s.GetMetadata(ctx, Ref{"a", arkv1.BackupLayoutArkV010}); err != nil || a.Labels[arkv1.ScheduleNameLabel] != "nightly" {
		t.Errorf("Heptio Ark v0.10 schedule label: %v, %v", a, err)
	}
	if v, err := s.GetMetadata(ctx, Ref{"v", arkv1.BackupLayoutVelero}); err != nil || v.Labels[arkv1.ScheduleNameLabel] != "mine" {
		t.Errorf("ark-schedule overwritten: %v, %v", v, err)
	}

	// Refused, naming the file and the problem.
	var snaps []string
	for i := range 20000 {
		snaps = append(snaps, fmt.Sprintf(`{"spec":{"persistentVolumeName":"pv-%060d"},"status":{"providerSnapshotID":"snap-%d","phase":"Completed"}}`, i, i))
	}
	for name, c := range map[string]struct {
		dir, body, snapshots string
		want                 []string
	}{
		"upper-case name":      {dir: "Shop_Daily", body: veleroWith("Shop_Daily", "", ""), want: []string{"backups/Shop_Daily/velero-backup.json", "cannot be a Kubernetes object's name", "rename its directory"}},
		"too long a name":      {dir: strings.Repeat("a", 300), body: veleroWith(strings.Repeat("a", 300), "", ""), want: []string{"cannot be a Kubernetes object's name", "…"}},
		"ttl a word":           {dir: "t", body: `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"t"},"spec":{"ttl":"forever"},"status":{"phase":"Completed"}}`, want: []string{"backups/t/velero-backup.json is not a valid Velero Backup"}},
		"warnings a string":    {dir: "w", body: veleroWith("w", "", `"warnings":"3"`), want: []string{"backups/w/velero-backup.json is not a valid Velero Backup"}},
		"errors overflow":      {dir: "e", body: veleroWith("e", "", `"errors":1e300`), want: []string{"backups/e/velero-backup.json is not a valid Velero Backup"}},
		"labels a list":        {dir: "l", body: veleroWith("l", `"labels":["a"]`, ""), want: []string{"not a valid Velero Backup"}},
		"too many volumes":     {dir: "big", body: veleroWith("big", "", ""), snapshots: "[" + strings.Join(snaps, ",") + "]", want: []string{"backups/big/velero-backup.json describes a Backup of", "more than the 1048576"}},
		"snapshots not a list": {dir: "s", body: veleroWith("s", "", ""), snapshots: `{"spec":{}}`, want: []string{"backups/s/s-volumesnapshots.json.gz is not valid"}},
	} {
		m := memstore.New("b")
		put(t, m, "backups/"+c.dir+"/velero-backup.json", c.body)
		if c.snapshots != "" {
			putGzip(t, m, "backups/"+c.dir+"/"+c.dir+"-volumesnapshots.json.gz", c.snapshots)
		}
		_, err := New(m, "b", Options{}).GetMetadata(ctx, Ref{c.dir, arkv1.BackupLayoutVelero})
		for _, want := range c.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v lacks %q", name, err, want)
			}
		}
	}
}

// FuzzForeignMetadata feeds arbitrary velero-backup.json and ark-backup.json
// files to GetMetadata. Invariants: no panic; a backup read is one the API
// server accepts as an object, of the name its directory has, finished, with
// its origin.
func FuzzForeignMetadata(f *testing.F) {
	f.Add([]byte(veleroBackupJSON("x", "Completed")), true)
	f.Add([]byte(veleroWith("x", `"labels":{"velero.io/schedule-name":"daily","bad key":"v"},"annotations":{"A B":"c"}`, `"warnings":-1`)), true)
	f.Add([]byte(arkBackupJSON("x", "Completed")), false)
	f.Add([]byte(`{"metadata":{"name":"x","labels":{"ark.heptio.com/schedule-name":"n"}},"status":{"phase":"Failed"}}`), false)
	f.Fuzz(func(t *testing.T, body []byte, velero bool) {
		m := memstore.New("b")
		ref, key := Ref{"x", arkv1.BackupLayoutArkV010}, "backups/x/ark-backup.json"
		if velero {
			ref, key = Ref{"x", arkv1.BackupLayoutVelero}, "backups/x/velero-backup.json"
		}
		put(t, m, key, string(body))
		b, err := New(m, "b", Options{}).GetMetadata(context.Background(), ref)
		if err != nil {
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("error %q does not name %s", err, key)
			}
			return
		}
		requireStorable(t, b)
		if b.Name != "x" || checkFinished(b) != nil || b.Status.Origin == nil || b.Status.Origin.Layout != ref.Layout {
			t.Fatalf("read %+v", b)
		}
	})
}
