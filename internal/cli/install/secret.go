package install

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
)

// azureKeys are the seven variables of the Azure setup in the docs.
var azureKeys = []string{
	"AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_CLIENT_ID",
	"AZURE_CLIENT_SECRET", "AZURE_STORAGE_ACCOUNT_ID", "AZURE_STORAGE_KEY",
}

// credentialsSecret is the cloud-credentials secret the docs create with
// `kubectl create secret generic cloud-credentials`: key `cloud` holding the
// file for AWS and GCP, one key per variable for Azure. MinIO's comes with
// its example; the filesystem store needs none.
func (r *Rendered) credentialsSecret(opts Options) (*unstructured.Unstructured, error) {
	creds := opts.Credentials
	switch opts.Provider {
	case "minio":
		if len(creds) > 0 {
			return nil, fmt.Errorf("--secret-file does not apply to --provider minio: the in-cluster MinIO of examples/minio has fixed credentials; " +
				"for your own S3-compatible server use --provider aws --config s3Url=URL,s3ForcePathStyle=true --secret-file FILE")
		}
		return nil, nil
	case "filesystem":
		if len(creds) > 0 {
			return nil, fmt.Errorf("--secret-file does not apply to --provider filesystem: a directory store needs no credentials")
		}
		return nil, nil
	}
	if len(bytes.TrimSpace(creds)) == 0 {
		return nil, fmt.Errorf("--secret-file is required for --provider %s: %s (see docs/cloud-providers.md)", opts.Provider, credentialsHelp[opts.Provider])
	}
	data := map[string]string{}
	switch opts.Provider {
	case "aws":
		if json.Valid(creds) {
			return nil, fmt.Errorf("--secret-file holds JSON (a GCP service account key?); --provider aws needs %s", credentialsHelp["aws"])
		}
		data[credentialsKey] = string(creds)
	case "gcp":
		var key struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(creds, &key); err != nil || key.Type == "" {
			return nil, fmt.Errorf("--secret-file is not a GCP JSON key file; --provider gcp needs %s", credentialsHelp["gcp"])
		}
		data[credentialsKey] = string(creds)
	case "azure":
		vars, err := parseEnvFile(creds)
		if err != nil {
			return nil, err
		}
		var missing []string
		for _, k := range azureKeys {
			if _, ok := vars[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("--secret-file lacks %s; Ark needs all of %s unless you use a connection string or a managed identity",
				strings.Join(missing, ", "), strings.Join(azureKeys, ", ")))
		}
		data = vars
	}
	encoded := map[string]any{}
	for k, v := range data {
		encoded[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata": map[string]any{
			"name":      secretName,
			"namespace": arkv1.DefaultNamespace,
			"labels":    map[string]any{"component": "ark"},
		},
		"type": "Opaque",
		"data": encoded,
	}}, nil
}

var credentialsHelp = map[string]string{
	"aws":   "the IAM user's credentials file, '[default]' then aws_access_key_id=... and aws_secret_access_key=... lines",
	"gcp":   "the service account key file made by 'gcloud iam service-accounts keys create credentials-ark'",
	"azure": "a file of KEY=VALUE lines: " + strings.Join(azureKeys, ", "),
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnvFile reads KEY=VALUE lines, as `kubectl create secret
// --from-env-file` does: blank lines and # comments are skipped, values are
// taken as they are (no quotes removed).
func parseEnvFile(data []byte) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		// The line is never quoted: it may be a secret pasted whole, or
		// hold one after a mistyped name.
		if !ok {
			return nil, fmt.Errorf("--secret-file line %d has no \"=\": write each variable as KEY=VALUE (e.g. AZURE_TENANT_ID=...), one per line", n)
		}
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("--secret-file line %d: the part before \"=\" is not a variable name (letters, digits and _, not starting with a digit): write KEY=VALUE, e.g. AZURE_TENANT_ID=...", n)
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("--secret-file has no KEY=VALUE lines; --provider azure needs %s", credentialsHelp["azure"])
	}
	return vars, nil
}
