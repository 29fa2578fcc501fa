package localcluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"k8s.io/client-go/tools/clientcmd"
)

// Files under Cluster.Dir.
const (
	stateFile      = "cluster.json"
	kubeconfigFile = "kubeconfig"
	envFile        = "env.sh"
	minioCredsFile = "credentials-minio"
	saKeyFile      = "sa.key"
	tokensFile     = "tokens.csv"
	logsDir        = "logs"
	certsDir       = "certs"
	etcdDataDir    = "etcd"
	minioDataDir   = "minio"
)

const (
	adminUser = "admin"
	// kubeContext names the cluster, user and context in the kubeconfig.
	kubeContext = "ark-local"
)

// state is what `down` and `status` need to find a detached cluster again.
type state struct {
	APIServer  string         `json:"apiServer"`
	Kubeconfig string         `json:"kubeconfig"`
	Ports      map[string]int `json:"ports"`
	MinIO      *MinIO         `json:"minio,omitempty"`
	Node       string         `json:"node,omitempty"` // the node's name, when it has one
	Workloads  bool           `json:"workloads,omitempty"`
	Processes  []*process     `json:"processes"`
}

func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): stop any processes it started by hand and remove it", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func writeState(dir string, s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(data, '\n'), 0o600)
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ensureServiceAccountKey keeps an existing key so that tokens signed by an
// earlier run on the same directory stay valid.
func ensureServiceAccountKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate service-account key: %w", err)
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	return writeFileAtomic(path, pem.EncodeToMemory(block), 0o600)
}

func randomHex(bytes int) (string, error) {
	b := make([]byte, bytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeTokens writes the apiserver's --token-auth-file: one admin in
// system:masters, the group every authorizer lets do anything.
func writeTokens(path, token string) error {
	line := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", token, adminUser, adminUser)
	return writeFileAtomic(path, []byte(line), 0o600)
}

func writeKubeconfig(path, server string, caData []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[kubeContext] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	cfg.AuthInfos[kubeContext] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[kubeContext] = &clientcmdapi.Context{Cluster: kubeContext, AuthInfo: kubeContext, Namespace: "default"}
	cfg.CurrentContext = kubeContext
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// writeEnv writes a file to source in a shell, and the MinIO credentials in
// the AWS shared-credentials format that Ark's cloud-credentials secret uses.
func writeEnv(dir, kubeconfig string, m *MinIO) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Local Ark cluster in %s. Use it with: . %s\n", dir, shellQuote(filepath.Join(dir, envFile)))
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", shellQuote(kubeconfig))
	if m != nil {
		fmt.Fprintf(&b, "export MINIO_ENDPOINT=%s\n", shellQuote(m.Endpoint))
		fmt.Fprintf(&b, "export MINIO_ACCESS_KEY=%s\n", shellQuote(m.AccessKey))
		fmt.Fprintf(&b, "export MINIO_SECRET_KEY=%s\n", shellQuote(m.SecretKey))
		fmt.Fprintf(&b, "export MINIO_CREDENTIALS_FILE=%s\n", shellQuote(filepath.Join(dir, minioCredsFile)))
		creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", m.AccessKey, m.SecretKey)
		if err := writeFileAtomic(filepath.Join(dir, minioCredsFile), []byte(creds), 0o600); err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, envFile), []byte(b.String()), 0o600)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
