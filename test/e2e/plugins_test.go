package e2e

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

const pluginsShop = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {mode: prod}
---
apiVersion: v1
kind: Secret
metadata: {name: web-tls, namespace: shop}
stringData: {key: k}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated, namespace: shop}
data: {x: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  volumes:
  - name: conf
    configMap: {name: web-config}
  - name: tls
    secret: {secretName: web-tls}
  containers:
  - name: web
    image: docker.io/library/nginx:1.27
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, labels: {app: web}}
spec:
  replicas: 0
  selector: {matchLabels: {run: api}}
  template:
    metadata: {labels: {run: api}}
    spec:
      containers:
      - name: api
        image: docker.io/library/httpd:2.4
      - name: sidecar
        image: quay.io/prometheus/node-exporter:v1
---
apiVersion: v1
kind: ConfigMap
metadata: {name: registry-rewrite, namespace: heptio-ark}
data:
  dockerhub: docker.io/library/ mirror.example.com/library/
`

const pluginsBad = `
apiVersion: v1
kind: Namespace
metadata: {name: bad}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine, namespace: bad}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: boom, namespace: bad, labels: {test.ark.heptio.com/misbehave: panic}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stuck, namespace: bad, labels: {test.ark.heptio.com/misbehave: hang}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: crash, namespace: bad, labels: {test.ark.heptio.com/misbehave: crash}}
`

// TestPlugins runs the server with a plugin directory holding the example
// plugins and a misbehaving one, all built here: a backup stored by the
// dirstore plugin with the pod-config action's additional items, restored
// from it with the registry-rewrite action's changes; a panic, a hang and
// a crash failing only their items; `ark plugin get`, and `ark plugin
// add`/`remove` on the shipped Deployment.
func TestPlugins(t *testing.T) {
	t.Parallel()
	pluginDir := t.TempDir()
	for _, p := range []struct{ module, pkg, name string }{
		{"examples/plugins/dirstore", ".", "dirstore"},
		{"examples/plugins/podconfig", ".", "podconfig"},
		{"examples/plugins/registryrewrite", ".", "registryrewrite"},
		{".", "./test/plugins/misbehaving", "misbehaving"},
	} {
		harness.BuildPlugin(t, p.module, p.pkg, filepath.Join(pluginDir, p.name))
	}
	storeRoot := t.TempDir()
	if err := os.Mkdir(filepath.Join(storeRoot, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := harness.Start(t, harness.Options{NoConfig: true, NoServer: true,
		ServerArgs: []string{"--plugin-dir", pluginDir, "--plugin-timeout", "5s"}})
	env.ApplyConfig(&arkv1.Config{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "example.com/dirstore", Config: map[string]string{"root": storeRoot}},
			Bucket:              "backups",
		},
	})
	env.StartServer()
	restoreApply(t, env, pluginsShop)
	ctx := context.Background()

	t.Run("ark plugin get lists what the server loaded", func(t *testing.T) {
		out := env.MustArk("plugin", "get")
		rows := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			rows[strings.Join(strings.Fields(line), " ")] = true
		}
		for _, want := range []string{
			"KIND NAME BINARY VERSION",
			"objectstore example.com/dirstore " + filepath.Join(pluginDir, "dirstore") + " v0.1.0",
			"backupitemaction example.com/pod-config " + filepath.Join(pluginDir, "podconfig") + " v0.1.0",
			"restoreitemaction example.com/registry-rewrite " + filepath.Join(pluginDir, "registryrewrite") + " v0.1.0",
			"backupitemaction test.ark.heptio.com/misbehaving " + filepath.Join(pluginDir, "misbehaving") + " v0.0.1-e2e",
			"restoreitemaction test.ark.heptio.com/misbehaving " + filepath.Join(pluginDir, "misbehaving") + " v0.0.1-e2e",
		} {
			if !rows[want] {
				t.Errorf("ark plugin get lacks the row %q:\n%s", want, out)
			}
		}
	})

	t.Run("backup through the plugin store with the backup item action's additional items", func(t *testing.T) {
		mustBackup(t, env, "shop", "--include-namespaces", "shop", "--selector", "app=web")
		// The dirstore layout: one flat file per escaped key.
		for _, f := range []string{"shop%2Fark-backup.json", "shop%2Fshop.tar.gz"} {
			if _, err := os.Stat(filepath.Join(storeRoot, "backups", f)); err != nil {
				t.Errorf("the plugin store does not hold %s: %v", f, err)
			}
		}
		entries := tarEntries(t, restoreDownload(t, env, "shop"))
		for _, want := range []string{
			"resources/pods/namespaces/shop/web.json",
			"resources/deployments.apps/namespaces/shop/api.json",
			"resources/configmaps/namespaces/shop/web-config.json", // no app=web label: pulled in by the pod
			"resources/secrets/namespaces/shop/web-tls.json",
		} {
			if _, ok := entries[want]; !ok {
				t.Errorf("the archive lacks %s: %v", want, sortedKeys(entries))
			}
		}
		if _, ok := entries["resources/configmaps/namespaces/shop/unrelated.json"]; ok {
			t.Errorf("a ConfigMap no pod uses, without the label, is in the archive")
		}
	})

	t.Run("restore from the plugin store with the restore item action's changes", func(t *testing.T) {
		restoreDeleteNamespace(t, env, "shop")
		_, r := restoreRun(t, env, "shop-restore", "shop")
		if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 {
			t.Fatalf("restore: %+v\n%+v", r.Status, dirstoreResults(t, storeRoot, "shop", "shop-restore"))
		}
		var pod corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, &pod); err != nil {
			t.Fatal(err)
		}
		if img := pod.Spec.Containers[0].Image; img != "mirror.example.com/library/nginx:1.27" {
			t.Errorf("restored pod image %s; want the registry rewritten", img)
		}
		var deploy appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "api"}, &deploy); err != nil {
			t.Fatal(err)
		}
		if a, b := deploy.Spec.Template.Spec.Containers[0].Image, deploy.Spec.Template.Spec.Containers[1].Image; a != "mirror.example.com/library/httpd:2.4" || b != "quay.io/prometheus/node-exporter:v1" {
			t.Errorf("restored deployment images %s, %s; want only the docker.io/library/ one rewritten", a, b)
		}
		for _, o := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}} {
			name := map[bool]string{true: "web-config", false: "web-tls"}[isConfigMap(o)]
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: name}, o); err != nil {
				t.Errorf("%s not restored: %v", name, err)
			}
		}
		results := dirstoreResults(t, storeRoot, "shop", "shop-restore")
		if w := strings.Join(results["warnings"].Namespaces["shop"], "\n"); !strings.Contains(w, "item action example.com/registry-rewrite: image rewritten: docker.io/library/nginx:1.27 -> mirror.example.com/library/nginx:1.27") {
			t.Errorf("restore warnings lack the action's note:\n%s", w)
		}
	})

	// No comma in the name: kubectl apply -f splits the temporary
	// directory's path, which holds it, at commas.
	t.Run("a panic a hang and a crash fail their items only; the server goes on", func(t *testing.T) {
		restoreApply(t, env, pluginsBad)
		res := env.Ark("backup", "create", "bad", "--include-namespaces", "bad", "--wait")
		b := waitBackupPhase(env, "bad", 3*time.Minute, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseCompleted, arkv1.BackupPhaseFailed)
		if b.Status.Phase != arkv1.BackupPhasePartiallyFailed || b.Status.Errors != 3 {
			t.Fatalf("backup bad: %s with %d errors, want PartiallyFailed with 3: %+v\n%s", b.Status.Phase, b.Status.Errors, b.Status.Problems, res.Output())
		}
		problems := map[string]string{}
		for _, p := range b.Status.Problems {
			problems[p.Name] = p.Message
		}
		for name, want := range map[string]string{
			"boom":  "plugin test.ark.heptio.com/misbehaving: panic: misbehaving on purpose: boom",
			"stuck": "plugin test.ark.heptio.com/misbehaving: binary " + filepath.Join(pluginDir, "misbehaving") + " did not answer within 5s",
			"crash": "plugin test.ark.heptio.com/misbehaving: binary " + filepath.Join(pluginDir, "misbehaving") + " crashed",
		} {
			if !strings.Contains(problems[name], want) {
				t.Errorf("problem of %s = %q; want it to contain %q", name, problems[name], want)
			}
		}
		entries := tarEntries(t, restoreDownload(t, env, "bad"))
		for _, name := range []string{"fine", "boom", "stuck", "crash"} {
			if _, ok := entries["resources/configmaps/namespaces/bad/"+name+".json"]; !ok {
				t.Errorf("%s is not in the archive (an item an action fails is kept as it was)", name)
			}
		}
		if log := env.ServerLog(); !strings.Contains(log, "crashing on purpose") || !strings.Contains(log, "plugin=misbehaving") {
			t.Errorf("the plugin's stderr is not in the server log under its name")
		}

		// The same on restore; then the server still serves.
		restoreDeleteNamespace(t, env, "bad")
		_, r := restoreRun(t, env, "bad-restore", "bad")
		if r.Status.Phase != arkv1.RestorePhasePartiallyFailed || r.Status.Errors != 3 {
			t.Errorf("restore bad: %s with %d errors, want PartiallyFailed with 3\n%+v", r.Status.Phase, r.Status.Errors, dirstoreResults(t, storeRoot, "bad", "bad-restore"))
		}
		var fine corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "bad", Name: "fine"}, &fine); err != nil {
			t.Errorf("the item no action failed was not restored: %v", err)
		}
		mustBackup(t, env, "after", "--include-namespaces", "shop")
		env.MustArk("plugin", "get")
	})

	t.Run("ark plugin add and remove change the shipped Deployment", func(t *testing.T) {
		env.MustKubectl("apply", "-f", harness.RepoPath("examples", "common", "10-deployment.yaml"))
		out := env.MustArk("plugin", "add", "registry.example.com/ark/dirstore-plugin:v0.1.0", "--image-pull-policy", "Always")
		if !strings.Contains(out, "as init container dirstore-plugin") {
			t.Errorf("add said:\n%s", out)
		}
		var d appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "ark"}, &d); err != nil {
			t.Fatal(err)
		}
		init := d.Spec.Template.Spec.InitContainers
		if len(init) != 1 || init[0].Name != "dirstore-plugin" || init[0].Image != "registry.example.com/ark/dirstore-plugin:v0.1.0" ||
			init[0].ImagePullPolicy != corev1.PullAlways || len(init[0].VolumeMounts) != 1 || init[0].VolumeMounts[0].Name != "plugins" || init[0].VolumeMounts[0].MountPath != "/target" {
			t.Errorf("init containers after add: %+v", init)
		}
		if r := env.Ark("plugin", "add", "registry.example.com/ark/dirstore-plugin:v0.1.0"); r.Err == nil || !strings.Contains(r.Stderr, "already added") {
			t.Errorf("adding twice: %v\n%s", r.Err, r.Output())
		}
		env.MustArk("plugin", "remove", "registry.example.com/ark/dirstore-plugin:v0.1.0")
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "ark"}, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Spec.Template.Spec.InitContainers) != 0 {
			t.Errorf("init containers after remove: %+v", d.Spec.Template.Spec.InitContainers)
		}
		if r := env.Ark("plugin", "remove", "nothing"); r.Err == nil || !strings.Contains(r.Stderr, "has no plugins to remove") {
			t.Errorf("removing what is not there: %v\n%s", r.Err, r.Output())
		}
	})
}

func isConfigMap(o client.Object) bool {
	_, ok := o.(*corev1.ConfigMap)
	return ok
}

// pluginExampleModules are the example plugins' modules.
var pluginExampleModules = []string{"examples/plugins/dirstore", "examples/plugins/podconfig", "examples/plugins/registryrewrite"}

// TestPluginExamplesPassTheirTests runs each example plugin's own tests,
// which build it and drive it through the real protocol with the SDK's
// test kit, and vets it.
// dirstoreResults reads a restore's results from the dirstore plugin's
// directory (the backups are there, not in MinIO): one file per key,
// escaped.
func dirstoreResults(t *testing.T, storeRoot, backup, restore string) map[string]arkv1.RestoreResult {
	t.Helper()
	f, err := os.Open(filepath.Join(storeRoot, "backups", url.PathEscape(layoutRestoreResultsKey(backup, restore))))
	if err != nil {
		t.Fatalf("the results of restore %s are not in the plugin store: %v", restore, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("results of %s are not gzipped: %v", restore, err)
	}
	results := map[string]arkv1.RestoreResult{}
	if err := json.NewDecoder(zr).Decode(&results); err != nil {
		t.Fatalf("results of %s are not JSON: %v", restore, err)
	}
	return results
}

func TestPluginExamplesPassTheirTests(t *testing.T) {
	t.Parallel()
	for _, m := range pluginExampleModules {
		for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
			cmd := exec.Command("go", args...)
			cmd.Dir = harness.RepoPath(m)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), m, err, out)
			}
		}
	}
}
