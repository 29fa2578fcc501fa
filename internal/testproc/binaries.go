package testproc

import (
	"os"
	"path/filepath"
	"testing"
)

// Tool is an external program the tests run, built or installed into the
// test-binary cache by a hack/ script.
type Tool struct {
	// Env, when set in the environment, names the program's path.
	Env string
	// Path is where the program is in the cache directory.
	Path func(cache string) string
	// Install is the command that puts it there.
	Install string
}

// The versions here and in the hack/ scripts must agree; the scripts name
// the cache directories after them.
const (
	minioVersion         = "v0.0.0-20260212201848-7aac2a2c5b7c"
	fakeGCSVersion       = "v1.56.1"
	azuriteVersion       = "3.35.0"
	controllerGenVersion = "v0.19.0"
	protoGenVersions     = "v1.36.12-v1.6.1" // protoc-gen-go, protoc-gen-go-grpc
)

// The tools the tests use besides the local cluster's own binaries.
var (
	MinIO = Tool{Env: "ARK_MINIO", Install: "hack/build-testbin.sh",
		Path: func(c string) string { return filepath.Join(c, "minio-"+minioVersion, "minio") }}
	FakeGCSServer = Tool{Env: "ARK_FAKE_GCS_SERVER", Install: "hack/install-emulators.sh",
		Path: func(c string) string { return filepath.Join(c, "fake-gcs-server-"+fakeGCSVersion, "fake-gcs-server") }}
	Azurite = Tool{Env: "ARK_AZURITE", Install: "hack/install-emulators.sh",
		Path: func(c string) string {
			return filepath.Join(c, "azurite-"+azuriteVersion, "node_modules", ".bin", "azurite-blob")
		}}
	ControllerGen = Tool{Env: "ARK_CONTROLLER_GEN", Install: "hack/controller-gen.sh --print-path",
		Path: func(c string) string {
			return filepath.Join(c, "controller-gen-"+controllerGenVersion, "controller-gen")
		}}
	// ProtoGen is hack/genproto and the protoc plugins it runs.
	ProtoGen = Tool{Env: "ARK_PROTOGEN", Install: "hack/genproto.sh --print-path",
		Path: func(c string) string { return filepath.Join(c, "protogen-"+protoGenVersions, "genproto") }}
)

// CacheDir is the test-binary cache: $ARK_TESTBIN_DIR, else
// $XDG_CACHE_HOME/ark-testbin, else ~/.cache/ark-testbin, as the hack/
// scripts fill it.
func CacheDir() string {
	if d := os.Getenv("ARK_TESTBIN_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "ark-testbin")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "ark-testbin")
	}
	return filepath.Join(home, ".cache", "ark-testbin")
}

// Require returns the path of tool: the one its variable names, else the
// one in the cache. When it is in neither place, a -short run skips the test
// and any other run fails it with the command that installs it: a test never
// passes by leaving out the real thing it is about.
func Require(t testing.TB, tool Tool) string {
	t.Helper()
	p := os.Getenv(tool.Env)
	if p == "" {
		p = tool.Path(CacheDir())
	}
	if _, err := os.Stat(p); err != nil {
		if testing.Short() {
			t.Skipf("%s is not installed (-short): %v", filepath.Base(p), err)
		}
		t.Fatalf("%s is not installed (%v): run %s (or `make test`, which installs everything), or set %s to its path",
			filepath.Base(p), err, tool.Install, tool.Env)
	}
	return p
}
