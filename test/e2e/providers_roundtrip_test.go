package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// providerBucket is the bucket (or container) Ark writes to, seen through the
// cloud's own SDK rather than through Ark, so that what Ark claims to have
// stored is checked independently.
type providerBucket struct {
	// list returns every key under prefix.
	list func(t *testing.T, prefix string) []string
	// read returns the bytes of key.
	read func(t *testing.T, key string) []byte
	// urlPrefix starts every download URL the server hands out: the
	// emulator's own address, so that the CLI reads from the store itself.
	urlPrefix string
	// signatureParam is the query parameter carrying the URL's signature.
	signatureParam string
}

// providerApp is what the test puts in the namespace it backs up.
type providerApp struct {
	ns           string
	configMaps   []*corev1.ConfigMap
	secret       *corev1.Secret
	service      *corev1.Service
	account      *corev1.ServiceAccount
	deployment   *appsv1.Deployment
	namespaceUID string // UID of the original namespace
}

// providerCreateApp fills namespace ns with several kinds of objects.
func providerCreateApp(t *testing.T, env *harness.Env, ns string) *providerApp {
	t.Helper()
	ctx := context.Background()
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"app": "provider-e2e", "team": "storage"}}}
	if err := env.Client.Create(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "provider-e2e"}
	app := &providerApp{ns: ns, namespaceUID: string(nsObj.UID)}
	for i := range 3 {
		app.configMaps = append(app.configMaps, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("settings-%d", i), Labels: labels},
			Data:       map[string]string{"index": fmt.Sprint(i), "greeting": strings.Repeat("hello ", i+1)},
			BinaryData: map[string][]byte{"blob": {0, byte(i), 0xff, 0x10}},
		})
	}
	app.secret = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-credentials", Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"username": []byte("ark"), "password": []byte("s3cr3t\x00bytes")},
	}
	app.service = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	app.account = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-runner", Labels: labels}}
	replicas := int32(2)
	app.deployment = &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: "web-runner",
					Containers:         []corev1.Container{{Name: "nginx", Image: "nginx:1.7.9", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
				},
			},
		},
	}
	objs := []client.Object{app.secret, app.service, app.account, app.deployment}
	for _, cm := range app.configMaps {
		objs = append(objs, cm)
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	return app
}

// providerBackupAndRestore is the round trip every store must carry: back up
// the namespace with the real binary, check the bucket and the downloads,
// lose the namespace, restore it, and check each object.
func providerBackupAndRestore(t *testing.T, env *harness.Env, bucket providerBucket, ns string) {
	ctx := context.Background()
	app := providerCreateApp(t, env, ns)
	backup := ns + "-backup"

	out := env.MustArk("backup", "create", backup, "--include-namespaces", ns, "--wait")
	if !strings.Contains(out, "Backup "+backup+": Completed") {
		t.Fatalf("backup did not complete:\n%s", out)
	}
	b := fetchBackup(t, env, backup)

	// The bucket holds the three files of the layout, and its metadata is
	// this backup, Completed.
	stored := bucket.list(t, backup+"/")
	for _, key := range []string{layoutMetadataKey(backup), layoutArchiveKey(backup), layoutLogKey(backup)} {
		if !slices.Contains(stored, key) {
			t.Fatalf("the bucket lacks %s; under %s/ it has %v", key, backup, stored)
		}
	}
	var meta arkv1.Backup
	if err := json.Unmarshal(bucket.read(t, layoutMetadataKey(backup)), &meta); err != nil {
		t.Fatalf("%s is not a Backup: %v", layoutMetadataKey(backup), err)
	}
	if meta.Name != backup || meta.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("%s holds backup %q in phase %q", layoutMetadataKey(backup), meta.Name, meta.Status.Phase)
	}

	// `ark backup download` reads the archive through the store's signed
	// URL: the file is byte for byte the object in the bucket, its digest
	// the one the Backup records, and it holds every object of the app.
	tarball := filepath.Join(t.TempDir(), backup+".tar.gz")
	env.MustArk("backup", "download", backup, "-o", tarball)
	downloaded, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(downloaded, bucket.read(t, layoutArchiveKey(backup))) {
		t.Fatalf("`ark backup download` wrote %d bytes that differ from the archive in the bucket", len(downloaded))
	}
	sum, size := fileSHA256(t, tarball)
	if b.Status.Archive == nil || b.Status.Archive.SHA256 != sum || b.Status.Archive.Size != size {
		t.Fatalf("status.archive = %+v, downloaded archive has sha256 %s size %d", b.Status.Archive, sum, size)
	}
	entries := tarEntries(t, tarball)
	for _, want := range app.archivePaths() {
		if _, ok := entries[want]; !ok {
			t.Errorf("archive lacks %s; it has %v", want, keys(entries))
		}
	}

	// `ark backup logs` prints the log object, uncompressed.
	logs := env.MustArk("backup", "logs", backup)
	if !strings.Contains(logs, "backup finished") {
		t.Fatalf("backup log lacks its end:\n%s", logs)
	}
	if want := providerGunzip(t, bucket.read(t, layoutLogKey(backup))); logs != want {
		t.Fatalf("`ark backup logs` printed %d bytes, the log in the bucket has %d", len(logs), len(want))
	}
	// The URLs behind those commands are the store's own signed URLs,
	// readable by a plain HTTP client.
	providerCheckDownloadURL(t, env, bucket, arkv1.DownloadTargetKindBackupLog, backup, layoutLogKey(backup))
	providerCheckDownloadURL(t, env, bucket, arkv1.DownloadTargetKindBackupContents, backup, layoutArchiveKey(backup))

	// Disaster.
	env.MustKubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s")
	env.Eventually(2*time.Minute, "namespace "+ns+" gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), err
	})

	restore := ns + "-restore"
	out = env.MustArk("restore", "create", restore, "--from-backup", backup, "--wait")
	if !strings.Contains(out, "Restore "+restore+": Completed") {
		t.Fatalf("restore did not complete:\n%s", out)
	}
	app.checkRestored(t, env, restore)

	// The restore's log and results went to the same bucket, beside the
	// backup, and are served through signed URLs too.
	for _, key := range []string{layoutRestoreLogKey(backup, restore), layoutRestoreResultsKey(backup, restore)} {
		if stored := bucket.list(t, backup+"/"); !slices.Contains(stored, key) {
			t.Fatalf("the bucket lacks %s; under %s/ it has %v", key, backup, stored)
		}
	}
	restoreLogs := env.MustArk("restore", "logs", restore)
	if want := providerGunzip(t, bucket.read(t, layoutRestoreLogKey(backup, restore))); restoreLogs != want || want == "" {
		t.Fatalf("`ark restore logs` printed %d bytes, the log in the bucket has %d", len(restoreLogs), len(want))
	}
	providerCheckDownloadURL(t, env, bucket, arkv1.DownloadTargetKindRestoreLog, restore, layoutRestoreLogKey(backup, restore))
	providerCheckDownloadURL(t, env, bucket, arkv1.DownloadTargetKindRestoreResults, restore, layoutRestoreResultsKey(backup, restore))
}

// archivePaths are the archive entries of the app's objects.
func (a *providerApp) archivePaths() []string {
	paths := []string{
		"resources/namespaces/cluster/" + a.ns + ".json",
		"resources/secrets/namespaces/" + a.ns + "/" + a.secret.Name + ".json",
		"resources/services/namespaces/" + a.ns + "/" + a.service.Name + ".json",
		"resources/serviceaccounts/namespaces/" + a.ns + "/" + a.account.Name + ".json",
		"resources/deployments.apps/namespaces/" + a.ns + "/" + a.deployment.Name + ".json",
	}
	for _, cm := range a.configMaps {
		paths = append(paths, "resources/configmaps/namespaces/"+a.ns+"/"+cm.Name+".json")
	}
	return paths
}

// checkRestored gets each object of the app back from the cluster and
// compares it with the original, one by one: new objects (new UIDs, the
// restore's label), same content.
func (a *providerApp) checkRestored(t *testing.T, env *harness.Env, restore string) {
	t.Helper()
	ctx := context.Background()
	get := func(o client.Object, name string) bool {
		t.Helper()
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: name}, o); err != nil {
			t.Errorf("%T %s/%s not restored: %v", o, a.ns, name, err)
			return false
		}
		return true
	}
	restored := func(what string, got, orig metav1.Object) {
		t.Helper()
		if got.GetUID() == orig.GetUID() {
			t.Errorf("%s has its original UID: it was never deleted, so the restore proves nothing", what)
		}
		if got.GetLabels()[arkv1.RestoreNameLabel] != restore {
			t.Errorf("%s lacks the label %s=%s: %v", what, arkv1.RestoreNameLabel, restore, got.GetLabels())
		}
		for k, v := range orig.GetLabels() {
			if got.GetLabels()[k] != v {
				t.Errorf("%s lost its label %s=%s: %v", what, k, v, got.GetLabels())
			}
		}
	}

	var ns corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: a.ns}, &ns); err != nil {
		t.Fatalf("namespace %s not restored: %v", a.ns, err)
	}
	if string(ns.UID) == a.namespaceUID || ns.Labels["team"] != "storage" || ns.Labels["app"] != "provider-e2e" {
		t.Errorf("namespace %s: uid %s (original %s), labels %v", a.ns, ns.UID, a.namespaceUID, ns.Labels)
	}

	for _, orig := range a.configMaps {
		var got corev1.ConfigMap
		if !get(&got, orig.Name) {
			continue
		}
		restored("configmap "+orig.Name, &got, orig)
		if !reflect.DeepEqual(got.Data, orig.Data) || !reflect.DeepEqual(got.BinaryData, orig.BinaryData) {
			t.Errorf("configmap %s: data %v binaryData %v, want %v %v", orig.Name, got.Data, got.BinaryData, orig.Data, orig.BinaryData)
		}
	}

	var secret corev1.Secret
	if get(&secret, a.secret.Name) {
		restored("secret "+a.secret.Name, &secret, a.secret)
		if secret.Type != a.secret.Type || !reflect.DeepEqual(secret.Data, a.secret.Data) {
			t.Errorf("secret %s: type %s data %q, want %s %q", a.secret.Name, secret.Type, secret.Data, a.secret.Type, a.secret.Data)
		}
	}

	var svc corev1.Service
	if get(&svc, a.service.Name) {
		restored("service "+a.service.Name, &svc, a.service)
		if !reflect.DeepEqual(svc.Spec.Selector, a.service.Spec.Selector) || len(svc.Spec.Ports) != 1 ||
			svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort != intstr.FromInt32(8080) || svc.Spec.Ports[0].Name != "http" {
			t.Errorf("service %s: selector %v ports %+v", a.service.Name, svc.Spec.Selector, svc.Spec.Ports)
		}
	}

	var sa corev1.ServiceAccount
	if get(&sa, a.account.Name) {
		restored("serviceaccount "+a.account.Name, &sa, a.account)
	}

	var deploy appsv1.Deployment
	if get(&deploy, a.deployment.Name) {
		restored("deployment "+a.deployment.Name, &deploy, a.deployment)
		spec := deploy.Spec.Template.Spec
		if deploy.Spec.Replicas == nil || *deploy.Spec.Replicas != 2 || len(spec.Containers) != 1 ||
			spec.Containers[0].Image != "nginx:1.7.9" || spec.ServiceAccountName != "web-runner" ||
			!reflect.DeepEqual(deploy.Spec.Selector.MatchLabels, a.deployment.Spec.Selector.MatchLabels) {
			t.Errorf("deployment %s differs: replicas %v, template %+v", a.deployment.Name, deploy.Spec.Replicas, spec)
		}
	}
}

// providerCheckDownloadURL asks the server for a download URL as the CLI
// does, checks that it is the store's signed URL, and fetches it with a plain
// HTTP client: the bytes are those of key in the bucket.
func providerCheckDownloadURL(t *testing.T, env *harness.Env, bucket providerBucket, kind arkv1.DownloadTargetKind, name, key string) {
	t.Helper()
	ctx := context.Background()
	dr := &arkv1.DownloadRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, GenerateName: name + "-"},
		Spec:       arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: kind, Name: name}},
	}
	if err := env.Client.Create(ctx, dr); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, dr) }()
	env.Eventually(time.Minute, fmt.Sprintf("download request for %s %s processed", kind, name), func() (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(dr), dr); err != nil {
			return false, err
		}
		if dr.Status.Phase == arkv1.DownloadRequestPhaseFailed {
			t.Fatalf("download request for %s %s failed: %s", kind, name, dr.Status.FailureReason)
		}
		return dr.Status.Phase == arkv1.DownloadRequestPhaseProcessed, fmt.Errorf("phase %q", dr.Status.Phase)
	})
	raw := dr.Status.DownloadURL
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("download URL %q: %v", raw, err)
	}
	if !strings.HasPrefix(raw, bucket.urlPrefix) || u.Query().Get(bucket.signatureParam) == "" {
		t.Fatalf("download URL of %s %s is %s: want a URL of the store (%s...) signed in %s", kind, name, raw, bucket.urlPrefix, bucket.signatureParam)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Get(raw)
	if err != nil {
		t.Fatalf("GET %s: %v", raw, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, bucket.read(t, key)) {
		t.Fatalf("GET %s = %s with %d bytes; want 200 and the %s object", raw, resp.Status, len(body), key)
	}
}

func providerGunzip(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// providerFailedBackup runs a backup that must fail and returns its status
// text and the CLI's output. Where credentials break decides the phase: a
// store the server cannot build at all (gcp reads its key file up front)
// fails the backup's validation; one the service refuses fails the run.
// Either way nothing is written and the text must carry the fix.
func providerFailedBackup(t *testing.T, env *harness.Env, name, ns string) (reason, cli string) {
	t.Helper()
	r := env.Ark("backup", "create", name, "--include-namespaces", ns, "--wait")
	if r.Err == nil {
		t.Fatalf("backup %s succeeded:\n%s", name, r.Output())
	}
	b := fetchBackup(t, env, name)
	switch b.Status.Phase {
	case arkv1.BackupPhaseFailed:
		reason = b.Status.FailureReason
	default:
		t.Fatalf("backup %s is %q, want it to fail:\n%s", name, b.Status.Phase, r.Output())
	}
	t.Logf("backup %s: phase %s, reason: %s", name, b.Status.Phase, reason)
	return reason, r.Output()
}

// The bucket layout users see, spelled out as docs/output-file-format.md
// documents it, so a change of layout fails these tests.
func layoutMetadataKey(backup string) string { return backup + "/ark-backup.json" }
func layoutArchiveKey(backup string) string  { return backup + "/" + backup + ".tar.gz" }
func layoutLogKey(backup string) string      { return backup + "/" + backup + "-logs.gz" }
func layoutRestoreLogKey(backup, restore string) string {
	return backup + "/restore-" + restore + "-logs.gz"
}
func layoutRestoreResultsKey(backup, restore string) string {
	return backup + "/restore-" + restore + "-results.gz"
}
