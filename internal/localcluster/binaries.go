package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The versions of the cluster's binaries. hack/build-testbin.sh builds these
// into a cache whose directory names carry them; keep the two in step.
const (
	KubeVersion  = "v1.34.4"
	EtcdVersion  = "v3.6.16"
	MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"
)

// TestbinEnv names the environment variable holding the cache root printed by
// hack/build-testbin.sh. The Makefile sets it for `make test`.
const TestbinEnv = "ARK_TESTBIN_DIR"

// Binaries are the paths of the executables a Cluster runs.
type Binaries struct {
	KubeAPIServer         string
	KubeControllerManager string
	Kubectl               string
	Etcd                  string
	MinIO                 string
}

// Testbin resolves the binaries under the cache root that hack/build-testbin.sh
// fills, and fails naming every one that is missing.
func Testbin(root string) (Binaries, error) {
	if root == "" {
		return Binaries{}, fmt.Errorf("no testbin directory given: set %s to the directory printed by hack/build-testbin.sh", TestbinEnv)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return Binaries{}, fmt.Errorf("testbin directory %s does not exist: build it with hack/build-testbin.sh, which prints its path", root)
	}
	kube := filepath.Join(root, "kube-"+KubeVersion)
	b := Binaries{
		KubeAPIServer:         filepath.Join(kube, "kube-apiserver"),
		KubeControllerManager: filepath.Join(kube, "kube-controller-manager"),
		Kubectl:               filepath.Join(kube, "kubectl"),
		Etcd:                  filepath.Join(root, "etcd-"+EtcdVersion, "etcd"),
		MinIO:                 filepath.Join(root, "minio-"+MinIOVersion, "minio"),
	}
	var errs []error
	for _, p := range []string{b.KubeAPIServer, b.KubeControllerManager, b.Kubectl, b.Etcd, b.MinIO} {
		if err := checkExecutable(p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return b, fmt.Errorf("testbin %s is incomplete (build it with hack/build-testbin.sh): %w", root, errors.Join(errs...))
	}
	return b, nil
}

func checkExecutable(path string) error {
	if path == "" {
		return errors.New("binary path is empty")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("binary %s: %w", path, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("binary %s is not an executable file", path)
	}
	return nil
}
