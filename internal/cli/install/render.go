// Package install is `ark install` and `ark uninstall`. The manifests are
// the example files of examples/ (embedded), with the user's values set in
// them, so `ark install --dry-run -o yaml` and `kubectl apply -f examples/...`
// give the same objects.
package install

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/heptio/ark/internal/backupstore"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/examples"
)

// Providers are the values of --provider: the directories of examples/.
var Providers = []string{"aws", "gcp", "azure", "minio", "filesystem"}

// Well-known names of the examples.
const (
	prereqsFile       = "common/00-prereqs.yaml"
	commonDeployment  = "common/10-deployment.yaml"
	deploymentName    = "ark"
	secretName        = "cloud-credentials"
	credentialsKey    = "cloud"
	awsCredentialsEnv = "AWS_SHARED_CREDENTIALS_FILE"
	gcpCredentialsEnv = "GOOGLE_APPLICATION_CREDENTIALS"
	// DefaultImage is the image of the examples.
	DefaultImage = "gcr.io/heptio-images/ark:latest"
)

// Options are what `ark install` takes from its flags.
type Options struct {
	Provider string
	// Bucket is required for aws, gcp and azure; minio and filesystem
	// default to the examples' bucket "ark".
	Bucket string
	// StoragePrefix is a directory inside the bucket for Ark's backups
	// (backupStorageProvider.prefix); empty: the bucket's top.
	StoragePrefix string
	// Credentials is the content of --secret-file: an AWS credentials file,
	// a GCP service account key, or Azure's KEY=VALUE lines.
	Credentials []byte
	// Config and SnapshotConfig are set over the example Config's
	// backupStorageProvider.config and persistentVolumeProvider.config.
	Config, SnapshotConfig map[string]string
	Image                  string
	Namespace              string
}

// Rendered is the outcome of Render: the objects, and notes for the user
// about choices made for them (e.g. no volume snapshots).
type Rendered struct {
	Objects []*unstructured.Unstructured
	Notes   []string
}

// Render builds the objects `ark install` applies: the prerequisites, the
// cloud-credentials secret, the provider's examples and the Deployment.
func Render(opts Options) (*Rendered, error) {
	if !slices.Contains(Providers, opts.Provider) {
		return nil, fmt.Errorf("--provider %q is not one of %s", opts.Provider, strings.Join(Providers, ", "))
	}
	if opts.Namespace == "" {
		opts.Namespace = arkv1.DefaultNamespace
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	if opts.Bucket != "" && !bucketName.MatchString(opts.Bucket) {
		return nil, fmt.Errorf("--bucket %q is not a bucket name: use 3-63 lowercase letters, digits, '.', '-' and '_'", opts.Bucket)
	}
	if opts.Bucket == "" && (opts.Provider == "aws" || opts.Provider == "gcp" || opts.Provider == "azure") {
		return nil, fmt.Errorf("--bucket is required for --provider %s: name the bucket (Azure: the blob container) backups go to; create it first", opts.Provider)
	}
	if err := backupstore.ValidatePrefix(opts.StoragePrefix); err != nil {
		return nil, fmt.Errorf("--storage-prefix: %w", err)
	}
	files, err := providerFiles(opts.Provider)
	if err != nil {
		return nil, err
	}
	r := &Rendered{}
	for _, f := range files {
		objs, err := decodeFile(f)
		if err != nil {
			return nil, err
		}
		r.Objects = append(r.Objects, objs...)
		if f == prereqsFile {
			secret, err := r.credentialsSecret(opts)
			if err != nil {
				return nil, err
			}
			if secret != nil {
				r.Objects = append(r.Objects, secret)
			}
		}
	}
	for _, o := range r.Objects {
		if err := r.customize(o, opts); err != nil {
			return nil, err
		}
		renameNamespace(o, opts.Namespace)
	}
	return r, nil
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)

// providerFiles lists the files of a provider as the docs apply them: the
// prerequisites, examples/<provider>/, and the common Deployment unless the
// provider brings its own (Azure, filesystem).
func providerFiles(provider string) ([]string, error) {
	entries, err := fs.ReadDir(examples.FS, provider)
	if err != nil {
		return nil, fmt.Errorf("examples/%s: %w", provider, err)
	}
	files := []string{prereqsFile}
	ownDeployment := false
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".yaml" {
			continue
		}
		f := provider + "/" + e.Name()
		files = append(files, f)
		objs, err := decodeFile(f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			ownDeployment = ownDeployment || (o.GetKind() == "Deployment" && o.GetName() == deploymentName)
		}
	}
	if !ownDeployment {
		files = append(files, commonDeployment)
	}
	return files, nil
}

// decodeFile parses one example file into its objects.
func decodeFile(name string) ([]*unstructured.Unstructured, error) {
	data, err := examples.FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("examples/%s: %w", name, err)
	}
	return objs, nil
}

// Decode parses a multi-document YAML stream, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// customize sets the user's values in one example object.
func (r *Rendered) customize(o *unstructured.Unstructured, opts Options) error {
	switch {
	case o.GetKind() == "Config" && o.GroupVersionKind().Group == arkv1.SchemeGroupVersion.Group:
		return r.customizeConfig(o, opts)
	case o.GetKind() == "Deployment" && o.GetName() == deploymentName:
		return customizeDeployment(o, opts)
	case o.GetKind() == "Job" && opts.Provider == "minio" && opts.Bucket != "":
		// The MinIO setup job creates the bucket named by $BUCKET.
		return setContainerEnv(o, "BUCKET", opts.Bucket)
	}
	return nil
}

func (r *Rendered) customizeConfig(o *unstructured.Unstructured, opts Options) error {
	if opts.Bucket != "" {
		if err := unstructured.SetNestedField(o.Object, opts.Bucket, "backupStorageProvider", "bucket"); err != nil {
			return err
		}
	}
	if opts.StoragePrefix != "" {
		if err := unstructured.SetNestedField(o.Object, opts.StoragePrefix, "backupStorageProvider", "prefix"); err != nil {
			return err
		}
	}
	storeName, _, _ := unstructured.NestedString(o.Object, "backupStorageProvider", "name")
	config, err := mergeConfig(o, opts.Config, "backupStorageProvider")
	if err != nil {
		return err
	}
	if opts.Namespace != arkv1.DefaultNamespace {
		// The in-cluster MinIO is reached through its service's DNS name.
		for k, v := range config {
			config[k] = strings.ReplaceAll(v, "."+arkv1.DefaultNamespace+".svc", "."+opts.Namespace+".svc")
		}
	}
	if err := checkKeys(storeName, config, objectStoreKeys, "--config", "backupStorageProvider"); err != nil {
		return err
	}
	if err := setConfig(o, config, "backupStorageProvider"); err != nil {
		return err
	}

	volumeName, hasVolumes, _ := unstructured.NestedString(o.Object, "persistentVolumeProvider", "name")
	switch {
	case !hasVolumes && len(opts.SnapshotConfig) > 0:
		return fmt.Errorf("--snapshot-location-config does not apply to --provider %s: it snapshots no volumes "+
			"(volume snapshots need the block storage of aws, gcp or azure)", opts.Provider)
	case !hasVolumes:
		return nil
	case len(opts.SnapshotConfig) == 0:
		unstructured.RemoveNestedField(o.Object, "persistentVolumeProvider")
		r.Notes = append(r.Notes, fmt.Sprintf("no --snapshot-location-config: persistent volumes will not be snapshotted "+
			"(add e.g. %s to snapshot them)", snapshotExample[volumeName]))
		return nil
	}
	volumeConfig, err := mergeConfig(o, opts.SnapshotConfig, "persistentVolumeProvider")
	if err != nil {
		return err
	}
	if err := checkKeys(volumeName, volumeConfig, blockStoreKeys, "--snapshot-location-config", "persistentVolumeProvider"); err != nil {
		return err
	}
	return setConfig(o, volumeConfig, "persistentVolumeProvider")
}

var snapshotExample = map[string]string{
	"aws":   "--snapshot-location-config region=us-east-1",
	"gcp":   "--snapshot-location-config project=my-project",
	"azure": "--snapshot-location-config location=eastus",
}

// mergeConfig lays the flag's values over the example's config map.
// Placeholders the flag leaves unset are dropped; checkKeys then says which
// required keys are missing.
func mergeConfig(o *unstructured.Unstructured, flag map[string]string, provider string) (map[string]string, error) {
	example, _, err := unstructured.NestedStringMap(o.Object, provider, "config")
	if err != nil {
		return nil, fmt.Errorf("%s.config of the example Config: %w", provider, err)
	}
	out := map[string]string{}
	for k, v := range example {
		if !examples.PlaceholderPattern.MatchString(v) {
			out[k] = v
		}
	}
	for k, v := range flag {
		out[k] = v
	}
	return out, nil
}

func setConfig(o *unstructured.Unstructured, config map[string]string, provider string) error {
	if len(config) == 0 {
		unstructured.RemoveNestedField(o.Object, provider, "config")
		return nil
	}
	m := make(map[string]any, len(config))
	for k, v := range config {
		m[k] = v
	}
	return unstructured.SetNestedMap(o.Object, m, provider, "config")
}

func customizeDeployment(o *unstructured.Unstructured, opts Options) error {
	containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) == 0 {
		return fmt.Errorf("the example Deployment %s has no containers: %v", deploymentName, err)
	}
	for i := range containers {
		c := containers[i].(map[string]any)
		if c["name"] != deploymentName {
			continue
		}
		c["image"] = opts.Image
		if opts.Provider == "gcp" {
			// The docs' one edit for GCP: the same file, another variable.
			env, _ := c["env"].([]any)
			for _, e := range env {
				if e := e.(map[string]any); e["name"] == awsCredentialsEnv {
					e["name"] = gcpCredentialsEnv
				}
			}
		}
		if opts.Provider == "filesystem" && opts.Bucket != "" {
			// The bucket is a directory of the storage claim, mounted so that
			// it exists before the server starts.
			mounts, _ := c["volumeMounts"].([]any)
			for _, m := range mounts {
				if m := m.(map[string]any); m["name"] == "storage" {
					m["mountPath"] = path.Join(path.Dir(fmt.Sprint(m["mountPath"])), opts.Bucket)
					m["subPath"] = opts.Bucket
				}
			}
		}
	}
	return unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
}

func setContainerEnv(o *unstructured.Unstructured, name, value string) error {
	containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return err
	}
	for _, c := range containers {
		env, _ := c.(map[string]any)["env"].([]any)
		for _, e := range env {
			if e := e.(map[string]any); e["name"] == name {
				e["value"] = value
			}
		}
	}
	return unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
}

// renameNamespace moves an object from heptio-ark to ns: its namespace, the
// Namespace itself, and the service account subjects of the bindings.
func renameNamespace(o *unstructured.Unstructured, ns string) {
	if ns == arkv1.DefaultNamespace {
		return
	}
	if o.GetNamespace() == arkv1.DefaultNamespace {
		o.SetNamespace(ns)
	}
	if o.GetKind() == "Namespace" && o.GetName() == arkv1.DefaultNamespace {
		o.SetName(ns)
	}
	subjects, found, _ := unstructured.NestedSlice(o.Object, "subjects")
	if !found {
		return
	}
	for _, s := range subjects {
		if s := s.(map[string]any); s["namespace"] == arkv1.DefaultNamespace {
			s["namespace"] = ns
		}
	}
	_ = unstructured.SetNestedSlice(o.Object, subjects, "subjects")
}
