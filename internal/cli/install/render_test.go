package install

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/examples"
	"github.com/heptio/ark/internal/cli/clientcfg"
)

const (
	awsCredentials   = "[default]\naws_access_key_id=AKIDEXAMPLE\naws_secret_access_key=secret\n"
	gcpCredentials   = `{"type": "service_account", "project_id": "my-project"}`
	azureCredentials = "AZURE_SUBSCRIPTION_ID=s\nAZURE_TENANT_ID=t\nAZURE_RESOURCE_GROUP=rg\nAZURE_CLIENT_ID=c\n" +
		"AZURE_CLIENT_SECRET=cs\nAZURE_STORAGE_ACCOUNT_ID=acct\nAZURE_STORAGE_KEY=a2V5\n"
)

// sample is a placeholder's sample value.
func sample(p string) string { return examples.Placeholders[p] }

// exampleObjects parses example files with the placeholders filled in, as a
// user following the docs would apply them.
func exampleObjects(t *testing.T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := examples.FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode(examples.Fill(data, examples.Placeholders))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, objs...)
	}
	return out
}

// docsSecret is the secret of `kubectl create secret generic
// cloud-credentials --namespace heptio-ark --from-file cloud=credentials-ark`
// (or --from-literal for each Azure variable), plus the label component=ark
// that `ark install` adds so that the installation's objects can be listed
// together.
func docsSecret(data map[string]string) *unstructured.Unstructured {
	encoded := map[string]any{}
	for k, v := range data {
		encoded[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": encoded,
		"metadata": map[string]any{"name": "cloud-credentials", "namespace": "heptio-ark", "labels": map[string]any{"component": "ark"}},
	}}
}

// renameEnv is the docs' one edit of 10-deployment.yaml for GCP.
func renameEnv(t *testing.T, objs []*unstructured.Unstructured, from, to string) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		data, _ := json.Marshal(o.Object)
		if !bytes.Contains(data, []byte(`"name":"`+from+`"`)) {
			t.Fatalf("the example deployment has no env %s", from)
		}
		data = bytes.ReplaceAll(data, []byte(`"name":"`+from+`"`), []byte(`"name":"`+to+`"`))
		o.Object = nil
		if err := json.Unmarshal(data, &o.Object); err != nil {
			t.Fatal(err)
		}
	}
}

// installCases are, per provider, the flags that fill the example's
// placeholders, and what the docs' steps give for them.
func installCases(t *testing.T) map[string]struct {
	args []string
	want []*unstructured.Unstructured
} {
	prereqs := exampleObjects(t, "common/00-prereqs.yaml")
	with := func(parts ...[]*unstructured.Unstructured) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	gcpDeployment := exampleObjects(t, "common/10-deployment.yaml")
	renameEnv(t, gcpDeployment, "AWS_SHARED_CREDENTIALS_FILE", "GOOGLE_APPLICATION_CREDENTIALS")
	azureVars, err := parseEnvFile([]byte(azureCredentials))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]struct {
		args []string
		want []*unstructured.Unstructured
	}{
		"aws": {
			args: []string{"--provider", "aws", "--bucket", sample("<YOUR_BUCKET>"), "--secret-file", "aws",
				"--config", "region=" + sample("<YOUR_REGION>"),
				"--snapshot-location-config", "region=" + sample("<YOUR_REGION>") + ",availabilityZone=" + sample("<YOUR_AVAILABILITY_ZONE>")},
			want: with(prereqs, []*unstructured.Unstructured{docsSecret(map[string]string{"cloud": awsCredentials})},
				exampleObjects(t, "aws/00-ark-config.yaml", "common/10-deployment.yaml")),
		},
		"gcp": {
			args: []string{"--provider", "gcp", "--bucket", sample("<YOUR_BUCKET>"), "--secret-file", "gcp",
				"--snapshot-location-config", "project=" + sample("<YOUR_PROJECT>") + ",zone=" + sample("<YOUR_ZONE>")},
			want: with(prereqs, []*unstructured.Unstructured{docsSecret(map[string]string{"cloud": gcpCredentials})},
				exampleObjects(t, "gcp/00-ark-config.yaml"), gcpDeployment),
		},
		"azure": {
			args: []string{"--provider", "azure", "--bucket", sample("<YOUR_BUCKET>"), "--secret-file", "azure",
				"--snapshot-location-config", "location=" + sample("<YOUR_LOCATION>") + ",apiTimeout=" + sample("<YOUR_TIMEOUT>")},
			want: with(prereqs, []*unstructured.Unstructured{docsSecret(azureVars)},
				exampleObjects(t, "azure/00-ark-deployment.yaml", "azure/10-ark-config.yaml")),
		},
		"minio": {
			args: []string{"--provider", "minio"},
			want: with(prereqs, exampleObjects(t, "minio/00-minio-deployment.yaml", "minio/10-ark-config.yaml", "common/10-deployment.yaml")),
		},
		"filesystem": {
			args: []string{"--provider", "filesystem"},
			want: with(prereqs, exampleObjects(t, "filesystem/00-ark-storage.yaml", "filesystem/05-ark-deployment.yaml", "filesystem/10-ark-config.yaml")),
		},
	}
}

// runInstall runs `ark install ARGS --dry-run -o FORMAT` and parses what it
// printed; "--secret-file aws|gcp|azure" names the sample credentials.
func runInstall(t *testing.T, format string, args ...string) ([]*unstructured.Unstructured, string, error) {
	t.Helper()
	dir := t.TempDir()
	for i := range args {
		if i > 0 && args[i-1] == "--secret-file" {
			content := map[string]string{"aws": awsCredentials, "gcp": gcpCredentials, "azure": azureCredentials}[args[i]]
			path := dir + "/" + args[i]
			if err := writeFile(path, content); err != nil {
				t.Fatal(err)
			}
			args[i] = path
		}
	}
	t.Setenv("ARK_CONFIG", dir+"/no-client-config.json")
	f := &clientcfg.Factory{}
	cmd := NewInstallCommand(f)
	cmd.PersistentFlags().StringVarP(&f.Namespace, "namespace", "n", "", "")
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append(args, "--dry-run", "-o", format))
	if err := cmd.Execute(); err != nil {
		return nil, stderr.String(), err
	}
	if format == "json" {
		var list struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &list); err != nil {
			t.Fatalf("output is not a JSON list: %v\n%s", err, stdout.String())
		}
		var objs []*unstructured.Unstructured
		for _, item := range list.Items {
			objs = append(objs, &unstructured.Unstructured{Object: item})
		}
		return objs, stderr.String(), nil
	}
	objs, err := Decode(stdout.Bytes())
	if err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, stdout.String())
	}
	return objs, stderr.String(), nil
}

// normalize makes two objects comparable whatever their Go types (YAML and
// JSON decoders differ on numbers).
func normalize(t *testing.T, objs []*unstructured.Unstructured) []any {
	t.Helper()
	out := make([]any, len(objs))
	for i, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// `ark install --dry-run -o yaml` gives, object for object, what the docs'
// kubectl steps give with the same values.
func TestDryRunEqualsTheExamples(t *testing.T) {
	for provider, tc := range installCases(t) {
		for _, format := range []string{"yaml", "json"} {
			t.Run(provider+"/"+format, func(t *testing.T) {
				got, _, err := runInstall(t, format, append([]string(nil), tc.args...)...)
				if err != nil {
					t.Fatal(err)
				}
				g, w := normalize(t, got), normalize(t, tc.want)
				if len(g) != len(w) {
					t.Fatalf("install renders %d objects, the examples have %d:\n%s\nvs\n%s", len(g), len(w), names(got), names(tc.want))
				}
				for i := range g {
					if !reflect.DeepEqual(g[i], w[i]) {
						gj, _ := json.MarshalIndent(g[i], "", " ")
						wj, _ := json.MarshalIndent(w[i], "", " ")
						t.Errorf("object %d (%s) differs:\ninstall:  %s\nexamples: %s", i, describe(got[i]), gj, wj)
					}
				}
			})
		}
	}
}

func names(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, describe(o))
	}
	return strings.Join(s, "\n")
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// Another namespace, bucket and image reach every place that names them.
func TestNamespaceBucketAndImage(t *testing.T) {
	objs, _, err := runInstall(t, "yaml", "--provider", "minio", "--bucket", "backups", "--storage-prefix", "cluster-a/ark", "-n", "backup-system", "--image", "example.com/ark:v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "heptio-ark" || (o.GetKind() == "Namespace" && o.GetName() != "backup-system") {
			t.Errorf("%s is still in heptio-ark", describe(o))
		}
	}
	out, _ := json.Marshal(normalize(t, objs))
	if bytes.Contains(out, []byte("heptio-ark\"")) || bytes.Contains(out, []byte(".heptio-ark.svc")) {
		t.Errorf("heptio-ark is left somewhere in %s", out)
	}
	cfg := find(objs, "Config", "default")
	if b, _, _ := unstructured.NestedString(cfg.Object, "backupStorageProvider", "bucket"); b != "backups" {
		t.Errorf("bucket %q", b)
	}
	if p, _, _ := unstructured.NestedString(cfg.Object, "backupStorageProvider", "prefix"); p != "cluster-a/ark" {
		t.Errorf("prefix %q, want cluster-a/ark from --storage-prefix", p)
	}
	if u, _, _ := unstructured.NestedString(cfg.Object, "backupStorageProvider", "config", "s3Url"); u != "http://minio.backup-system.svc:9000" {
		t.Errorf("s3Url %q", u)
	}
	job, _ := json.Marshal(find(objs, "Job", "minio-setup").Object)
	if !bytes.Contains(job, []byte(`{"name":"BUCKET","value":"backups"}`)) {
		t.Errorf("the MinIO setup job does not create bucket backups: %s", job)
	}
	dep, _ := json.Marshal(find(objs, "Deployment", "ark").Object)
	if !bytes.Contains(dep, []byte(`"image":"example.com/ark:v1"`)) {
		t.Errorf("deployment image: %s", dep)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		b, _ := json.Marshal(find(objs, kind, "ark").Object)
		if !bytes.Contains(b, []byte(`"namespace":"backup-system"`)) {
			t.Errorf("%s subject not moved: %s", kind, b)
		}
	}

	objs, _, err = runInstall(t, "yaml", "--provider", "filesystem", "--bucket", "backups")
	if err != nil {
		t.Fatal(err)
	}
	dep, _ = json.Marshal(find(objs, "Deployment", "ark").Object)
	if !bytes.Contains(dep, []byte(`{"mountPath":"/storage/backups","name":"storage","subPath":"backups"}`)) {
		t.Errorf("the bucket directory is not mounted: %s", dep)
	}
}

// Without --snapshot-location-config nothing is snapshotted, and the user
// is told how to change that.
func TestNoSnapshotLocation(t *testing.T) {
	objs, stderr, err := runInstall(t, "yaml", "--provider", "aws", "--bucket", "b12", "--secret-file", "aws", "--config", "region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := find(objs, "Config", "default")
	if _, found := cfg.Object["persistentVolumeProvider"]; found {
		t.Errorf("persistentVolumeProvider without --snapshot-location-config: %v", cfg.Object)
	}
	if !strings.Contains(stderr, "--snapshot-location-config region=") {
		t.Errorf("no note on volume snapshots: %q", stderr)
	}
	// Optional placeholders the user leaves unset are dropped, not kept.
	objs, _, err = runInstall(t, "yaml", "--provider", "aws", "--bucket", "b12", "--secret-file", "aws",
		"--config", "region=eu-west-1", "--snapshot-location-config", "region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	pv, _, _ := unstructured.NestedStringMap(find(objs, "Config", "default").Object, "persistentVolumeProvider", "config")
	if !reflect.DeepEqual(pv, map[string]string{"region": "eu-west-1"}) {
		t.Errorf("persistentVolumeProvider.config = %v", pv)
	}
}

func TestBadInputIsRefusedWithTheFix(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--provider", "ibm", "--bucket", "b12"}, `--provider "ibm" is not one of aws, gcp, azure, minio, filesystem`},
		{[]string{"--provider", "aws", "--secret-file", "aws", "--config", "region=x"}, "--bucket is required for --provider aws"},
		{[]string{"--provider", "aws", "--bucket", "My_Bucket", "--secret-file", "aws"}, "is not a bucket name"},
		{[]string{"--provider", "minio", "--storage-prefix", "../other"}, "--storage-prefix"},
		{[]string{"--provider", "aws", "--bucket", "b12", "--config", "region=x"}, "--secret-file is required for --provider aws"},
		{[]string{"--provider", "aws", "--bucket", "b12", "--secret-file", "gcp", "--config", "region=x"}, "holds JSON"},
		{[]string{"--provider", "gcp", "--bucket", "b12", "--secret-file", "aws"}, "not a GCP JSON key file"},
		{[]string{"--provider", "aws", "--bucket", "b12", "--secret-file", "aws"}, "needs region or s3Url: add --config region="},
		{[]string{"--provider", "aws", "--bucket", "b12", "--secret-file", "aws", "--config", "s3url=http://x"}, `unknown key "s3url"`},
		{[]string{"--provider", "aws", "--bucket", "b12", "--secret-file", "aws", "--config", "region"}, "write KEY=VALUE pairs"},
		{[]string{"--provider", "aws", "--bucket", "b12", "--secret-file", "aws", "--config", "region=x", "--snapshot-location-config", "availabilityZone=x"},
			"needs region: add --snapshot-location-config region="},
		{[]string{"--provider", "gcp", "--bucket", "b12", "--secret-file", "gcp", "--snapshot-location-config", "zone=x"}, "needs project"},
		{[]string{"--provider", "azure", "--bucket", "b12", "--secret-file", "azure", "--snapshot-location-config", "timeout=2m"}, `unknown key "timeout"`},
		{[]string{"--provider", "azure", "--bucket", "b12", "--secret-file", "aws"}, `line 1 has no "=": write each variable as KEY=VALUE`},
		{[]string{"--provider", "minio", "--secret-file", "aws"}, "--secret-file does not apply to --provider minio"},
		{[]string{"--provider", "minio", "--snapshot-location-config", "region=x"}, "--snapshot-location-config does not apply to --provider minio"},
		{[]string{"--provider", "filesystem", "--secret-file", "aws"}, "a directory store needs no credentials"},
	} {
		_, _, err := runInstall(t, "yaml", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ark install %s: error %v, want it to contain %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// The Azure and filesystem deployments are the common one with other
// credentials and volumes: probes, security context and the rest agree.
func TestDeploymentsAgree(t *testing.T) {
	strip := func(file string) any {
		objs := exampleObjects(t, file)
		dep := find(objs, "Deployment", "ark")
		if dep == nil {
			t.Fatalf("%s has no Deployment ark", file)
		}
		dep = dep.DeepCopy()
		spec := dep.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		delete(spec, "volumes")
		for _, c := range spec["containers"].([]any) {
			for _, k := range []string{"env", "envFrom", "volumeMounts"} {
				delete(c.(map[string]any), k)
			}
		}
		return normalize(t, []*unstructured.Unstructured{dep})[0]
	}
	common := strip("common/10-deployment.yaml")
	for _, f := range []string{"azure/00-ark-deployment.yaml", "filesystem/05-ark-deployment.yaml"} {
		if got := strip(f); !reflect.DeepEqual(got, common) {
			t.Errorf("%s differs from common/10-deployment.yaml beyond credentials and volumes", f)
		}
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// TestSecretFileLinesAreNeverEchoed feeds malformed --secret-file lines that
// hold real-looking secrets: the error names the line, never its content.
func TestSecretFileLinesAreNeverEchoed(t *testing.T) {
	for _, tc := range []struct {
		line, secret, want string
	}{
		{"AZURE_CLIENT_SECRET: Xq8~s3cr3t.Cl1ent-Value_0123456789", "Xq8~s3cr3t.Cl1ent-Value_0123456789", `line 2 has no "="`},
		{"Xq8~s3cr3t.Cl1ent-Value_0123456789", "Xq8~s3cr3t.Cl1ent-Value_0123456789", `line 2 has no "="`},
		{"AZURE CLIENT SECRET=Xq8~s3cr3t.Cl1ent-Value_0123456789", "Xq8~s3cr3t", `line 2: the part before "=" is not a variable name`},
		{"9x8G2kStorageKeyBase64+/==AZURE_STORAGE_KEY", "9x8G2kStorageKeyBase64", `line 2: the part before "=" is not a variable name`},
	} {
		path := t.TempDir() + "/credentials-ark"
		if err := writeFile(path, "AZURE_TENANT_ID=tenant\n"+tc.line+"\nAZURE_CLIENT_ID=client\n"); err != nil {
			t.Fatal(err)
		}
		t.Setenv("ARK_CONFIG", t.TempDir()+"/no-client-config.json")
		f := &clientcfg.Factory{}
		cmd := NewInstallCommand(f)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"--provider", "azure", "--bucket", "b12", "--secret-file", path, "--dry-run", "-o", "yaml"})
		err := cmd.Execute()
		if err == nil {
			t.Errorf("line %q was accepted", tc.line)
			continue
		}
		if strings.Contains(err.Error(), tc.secret) || strings.Contains(out.String(), tc.secret) {
			t.Errorf("line %q: the secret is in the output:\nerror: %v\noutput: %s", tc.line, err, out.String())
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("line %q: error %v, want %q", tc.line, err, tc.want)
		}
	}
}
