package localcluster

import (
	"os"
	"testing"
)

// BenchmarkStart measures Start on a fresh directory (new certificates, empty
// etcd), with MinIO, the controller-manager and the node; Stop is not timed.
//
//	ARK_TESTBIN_DIR=$(hack/build-testbin.sh) go test ./internal/localcluster -run '^$' -bench Start -benchtime 3x
func BenchmarkStart(b *testing.B) { benchmarkStart(b, false) }

// BenchmarkStartNoNode is BenchmarkStart without the node, to see what the
// node costs.
func BenchmarkStartNoNode(b *testing.B) { benchmarkStart(b, true) }

func benchmarkStart(b *testing.B, noNode bool) {
	bins := benchTestbin(b)
	for b.Loop() {
		c, err := Start(b.Context(), Options{Binaries: bins, Dir: b.TempDir(), MinIO: true, NoNode: noNode})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRestart measures Start on a directory an earlier run left (the
// `down` then `up` path): certificates and etcd data exist already.
func BenchmarkRestart(b *testing.B) {
	bins := benchTestbin(b)
	dir := b.TempDir()
	c, err := Start(b.Context(), Options{Binaries: bins, Dir: dir, MinIO: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := Start(b.Context(), Options{Binaries: bins, Dir: dir, MinIO: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func benchTestbin(b *testing.B) Binaries {
	root := os.Getenv(TestbinEnv)
	if root == "" {
		b.Skipf("%s is unset: run `make test`, or ARK_TESTBIN_DIR=$(hack/build-testbin.sh)", TestbinEnv)
	}
	bins, err := Testbin(root)
	if err != nil {
		b.Fatal(err)
	}
	return bins
}
