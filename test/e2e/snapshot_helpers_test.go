package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/test/e2e/harness"
)

// snapshotPrefix is where the local provider keeps its snapshots in the
// bucket (local.DefaultPrefix).
const snapshotPrefix = "_snapshots/"

// snapshotStorageClass is the class of the example's claim and volume. No
// StorageClass object exists: the volume is provisioned by the test, as a
// cloud's provisioner would, and bound by the real PV controller.
const snapshotStorageClass = "local-hostpath"

var snapshotIDPattern = regexp.MustCompile(`^local-[0-9a-f]{32}$`)

// snapshotEnv starts Ark with the local snapshotter on a cluster whose
// controller manager also runs the PV controller (binding) and the PV and
// PVC protection controllers (without them the kubernetes.io/pv[c]-protection
// finalizers, which the API server's admission adds, would keep deleted
// claims and volumes forever). It returns the env and the Config's
// volumeRoot, where restored volumes appear.
func snapshotEnv(t *testing.T) (*harness.Env, string) {
	t.Helper()
	controllers := append(slices.Clone(localcluster.DefaultControllers),
		"persistentvolume-binder-controller",
		"persistentvolume-protection-controller",
		"persistentvolumeclaim-protection-controller")
	cluster := localcluster.StartForTest(t, localcluster.Options{MinIO: true, Controllers: controllers})
	env := harness.Start(t, harness.Options{Cluster: cluster, NoConfig: true, NoServer: true})
	volumeRoot := filepath.Join(t.TempDir(), "restored-volumes")
	env.ApplyConfig(snapshotConfig(env, volumeRoot))
	env.StartServer()
	return env, volumeRoot
}

// snapshotConfig is the MinIO Config plus the local persistentVolumeProvider.
func snapshotConfig(env *harness.Env, volumeRoot string) *arkv1.Config {
	cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
	cfg.PersistentVolumeProvider = &arkv1.CloudProviderConfig{
		Name:   "local",
		Config: map[string]string{"volumeRoot": volumeRoot},
	}
	return cfg
}

// snapshotEntry is one file, directory or symlink of a volume.
type snapshotEntry struct {
	mode    fs.FileMode
	content []byte // regular files
	target  string // symlinks
	modTime time.Time
}

// snapshotWriteVolume fills dir with what an application might leave in a
// volume: nested directories, binary and empty files, special mode bits,
// read-only files and directories, a relative symlink and an empty
// directory. It returns the tree, keyed by slash path ("." is dir itself).
func snapshotWriteVolume(t *testing.T, dir string) map[string]snapshotEntry {
	t.Helper()
	random := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Half random, half zeros: binary content that compresses unevenly.
	payload := append(random(512<<10), make([]byte, 512<<10)...)
	tree := map[string]snapshotEntry{
		".":                    {mode: fs.ModeDir | 0o775},
		"index.html":           {mode: 0o644, content: []byte("<h1>hello from nginx-logs</h1>\n")},
		"access.log":           {mode: 0o600, content: random(200 << 10)},
		"empty.txt":            {mode: 0o644, content: []byte{}},
		"bin":                  {mode: fs.ModeDir | 0o755},
		"bin/rotate.sh":        {mode: 0o755, content: []byte("#!/bin/sh\nexec logrotate /etc/logrotate.conf\n")},
		"bin/setuid-helper":    {mode: fs.ModeSetuid | 0o755, content: random(3000)},
		"deep":                 {mode: fs.ModeDir | 0o750},
		"deep/a":               {mode: fs.ModeDir | 0o750},
		"deep/a/b":             {mode: fs.ModeDir | 0o700},
		"deep/a/b/c":           {mode: fs.ModeDir | 0o755},
		"deep/a/b/c/payload":   {mode: 0o640, content: payload},
		"deep/a/b/empty-dir":   {mode: fs.ModeDir | 0o750},
		"shared":               {mode: fs.ModeDir | fs.ModeSetgid | 0o775},
		"shared/group-file":    {mode: 0o664, content: []byte("group data\x00\x01\x02\xff")},
		"tmp":                  {mode: fs.ModeDir | fs.ModeSticky | 0o777},
		"readonly":             {mode: fs.ModeDir | 0o555},
		"readonly/frozen.conf": {mode: 0o444, content: []byte("worker_processes 1;\n")},
		"current.log":          {mode: fs.ModeSymlink | 0o777, target: "access.log"},
		"deep/a/b/c/to-index":  {mode: fs.ModeSymlink | 0o777, target: "../../../../index.html"},
	}
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths) // parents before children
	for _, p := range paths {
		e, full := tree[p], filepath.Join(dir, filepath.FromSlash(p))
		switch {
		case e.mode.IsDir():
			if err := os.MkdirAll(full, 0o700); err != nil {
				t.Fatal(err)
			}
		case e.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(e.target, full); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(full, e.content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Modes last and deepest first, so read-only directories are filled
	// before they become read-only; chmod sets what the umask took away.
	for i := len(paths) - 1; i >= 0; i-- {
		e := tree[paths[i]]
		if e.mode&fs.ModeSymlink != 0 {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(paths[i]))
		if err := os.Chmod(full, snapshotChmodBits(e.mode)); err != nil {
			t.Fatal(err)
		}
		// Distinct times in the past, so a restore that merely creates
		// files now cannot pass for one that keeps their times.
		when := time.Date(2018, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour + time.Duration(i)*1234567*time.Nanosecond)
		if err := os.Chtimes(full, when, when); err != nil {
			t.Fatal(err)
		}
	}
	// The tree read back (with its modification times) is the reference;
	// a filesystem that drops a bit shows up here, not as a restore bug.
	got := snapshotReadVolume(t, dir)
	for p, e := range tree {
		e.modTime = got[p].modTime
		tree[p] = e
	}
	if !snapshotSameTree(t, tree, got) {
		t.Fatalf("the fixture in %s is not what was written", dir)
	}
	return tree
}

func snapshotChmodBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// snapshotReadVolume reads a directory tree back into the form
// snapshotWriteVolume returns.
func snapshotReadVolume(t *testing.T, dir string) map[string]snapshotEntry {
	t.Helper()
	tree := map[string]snapshotEntry{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		e := snapshotEntry{mode: info.Mode(), modTime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.mode = fs.ModeSymlink | 0o777 // link permissions mean nothing on Linux
			e.modTime = time.Time{}
			if e.target, err = os.Readlink(path); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if e.content, err = os.ReadFile(path); err != nil {
				return err
			}
		}
		tree[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return tree
}

// snapshotAsRestored is tree as a restore must bring it back: setuid, setgid
// and sticky bits are never restored (a tenant's volume must not gain a
// setuid binary on the node; docs/volume-snapshots.md), the rest exactly.
func snapshotAsRestored(tree map[string]snapshotEntry) map[string]snapshotEntry {
	out := make(map[string]snapshotEntry, len(tree))
	for p, e := range tree {
		e.mode &^= fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
		out[p] = e
	}
	return out
}

// snapshotSameTree reports (and logs) every difference between two trees.
func snapshotSameTree(t *testing.T, want, got map[string]snapshotEntry) bool {
	t.Helper()
	same := true
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s is missing", p)
		case g.mode != w.mode:
			t.Errorf("%s has mode %v, want %v", p, g.mode, w.mode)
		case g.target != w.target:
			t.Errorf("symlink %s points at %q, want %q", p, g.target, w.target)
		case !bytes.Equal(g.content, w.content):
			t.Errorf("%s differs: %d bytes, want %d bytes", p, len(g.content), len(w.content))
		case !g.modTime.Equal(w.modTime):
			t.Errorf("%s was modified at %s, want %s", p, g.modTime, w.modTime)
		default:
			continue
		}
		same = false
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s should not exist", p)
			same = false
		}
	}
	return same
}

// snapshotVolumeAndClaim creates, in namespace ns (made if missing), a
// claim and a hostPath volume over dir, bound to each other by spec
// (volume.spec.claimRef and claim.spec.volumeName), all labelled app=<ns>,
// and waits until the PV controller reports them Bound.
func snapshotVolumeAndClaim(t *testing.T, env *harness.Env, ns, claim, pvName, dir string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": ns}
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}
	if err := client.IgnoreAlreadyExists(env.Client.Create(ctx, nsObj)); err != nil {
		t.Fatal(err)
	}
	class := snapshotStorageClass
	size := resource.MustParse("50Mi")
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: claim, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			VolumeName:       pvName,
		},
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName, Labels: labels},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              class,
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: claim},
		},
	}
	// The volume first, and the claim once the PV controller has seen the
	// volume: a claim naming a volume it has not seen yet waits for its next
	// periodic sync (15s).
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	env.Eventually(time.Minute, "volume "+pvName+" Available", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(pv), pv)
		return err == nil && pv.Status.Phase == corev1.VolumeAvailable, err
	})
	if err := env.Client.Create(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	snapshotWaitBound(t, env, ns, claim, pvName)
}

// snapshotWaitBound waits until the PV controller has bound the claim and
// the volume to each other, and returns both.
func snapshotWaitBound(t *testing.T, env *harness.Env, ns, claim, pvName string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	t.Helper()
	ctx := context.Background()
	var pvc corev1.PersistentVolumeClaim
	var pv corev1.PersistentVolume
	env.Eventually(time.Minute, fmt.Sprintf("claim %s/%s and volume %s Bound", ns, claim, pvName), func() (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: claim}, &pvc); err != nil {
			return false, err
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: pvName}, &pv); err != nil {
			return false, err
		}
		ok := pvc.Status.Phase == corev1.ClaimBound && pv.Status.Phase == corev1.VolumeBound &&
			pvc.Spec.VolumeName == pvName && pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.UID == pvc.UID
		return ok, fmt.Errorf("claim %s (volumeName %q), volume %s", pvc.Status.Phase, pvc.Spec.VolumeName, pv.Status.Phase)
	})
	return &pvc, &pv
}

// snapshotDisaster deletes a namespace and a volume, waiting until both are
// gone (the protection controllers release them once nothing uses them).
func snapshotDisaster(t *testing.T, env *harness.Env, ns, pvName string) {
	t.Helper()
	ctx := context.Background()
	env.MustKubectl("delete", "namespaces", ns, "--wait=true", "--timeout=120s")
	env.MustKubectl("delete", "pv", pvName, "--wait=true", "--timeout=120s")
	env.Eventually(2*time.Minute, "namespace "+ns+" and volume "+pvName+" gone", func() (bool, error) {
		errNS := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		errPV := env.Client.Get(ctx, client.ObjectKey{Name: pvName}, &corev1.PersistentVolume{})
		return apierrors.IsNotFound(errNS) && apierrors.IsNotFound(errPV), errors.Join(errNS, errPV)
	})
}

// snapshotBackup fetches a Backup.
func snapshotBackup(t *testing.T, env *harness.Env, name string) *arkv1.Backup {
	t.Helper()
	var b arkv1.Backup
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &b); err != nil {
		t.Fatalf("reading backup %s: %v", name, err)
	}
	return &b
}

// snapshotRestore fetches a Restore.
func snapshotRestore(t *testing.T, env *harness.Env, name string) *arkv1.Restore {
	t.Helper()
	var r arkv1.Restore
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &r); err != nil {
		t.Fatalf("reading restore %s: %v", name, err)
	}
	return &r
}

// snapshotObjects lists the keys under the local provider's prefix.
func snapshotObjects(t *testing.T, env *harness.Env) []string {
	t.Helper()
	c := harness.S3Client(env.Cluster.MinIO)
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(env.Bucket), Prefix: aws.String(snapshotPrefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing %s/%s: %v", env.Bucket, snapshotPrefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// snapshotGetObject reads one object of the bucket straight from MinIO.
func snapshotGetObject(t *testing.T, env *harness.Env, key string) []byte {
	t.Helper()
	out, err := harness.S3Client(env.Cluster.MinIO).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("reading %s/%s: %v", env.Bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// snapshotMetadata is the .json the local provider writes beside each
// snapshot.
type snapshotMetadata struct {
	SnapshotID string            `json:"snapshotID"`
	SourcePath string            `json:"sourcePath"`
	Tags       map[string]string `json:"tags"`
}

func snapshotReadMetadata(t *testing.T, env *harness.Env, id string) snapshotMetadata {
	t.Helper()
	var m snapshotMetadata
	if err := json.Unmarshal(snapshotGetObject(t, env, snapshotPrefix+id+".json"), &m); err != nil {
		t.Fatalf("metadata of snapshot %s: %v", id, err)
	}
	return m
}

// snapshotRestoreResults reads the gzipped results a restore stored next to
// its backup.
func snapshotRestoreResults(t *testing.T, env *harness.Env, backup, restore string) map[string]arkv1.RestoreResult {
	t.Helper()
	data := snapshotGetObject(t, env, backup+"/restore-"+restore+"-results.gz")
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var results map[string]arkv1.RestoreResult
	if err := json.NewDecoder(zr).Decode(&results); err != nil {
		t.Fatalf("results of restore %s: %v", restore, err)
	}
	return results
}

// snapshotDirEntries lists the names in dir (none when it is missing).
func snapshotDirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// snapshotRequireOutput fails unless out contains every one of wants.
func snapshotRequireOutput(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

func snapshotWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func snapshotSortedKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// snapshotWaitServerLog waits until the server has logged s.
func snapshotWaitServerLog(t *testing.T, env *harness.Env, s string) {
	t.Helper()
	env.Eventually(time.Minute, "server log line with "+s, func() (bool, error) {
		return strings.Contains(env.ServerLog(), s), nil
	})
}
