package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/heapmeter"
)

// BenchmarkVerifyMemory measures a verification of an archive of N
// ConfigMaps of about 256 bytes each, read from a file as the CLI's --file
// does: throughput (MB/s of the compressed archive), the highest heap seen
// while it runs above the heap before it (peak-B/item, sampled every
// millisecond, garbage not yet collected included), and the same in total
// (peak-MiB). Run it with
//
//	go test ./internal/verify -run '^$' -bench VerifyMemory -benchtime 1x
//
// A verification keeps no item: what grows with N is the archive Reader's
// record of the names it has seen (to find an item stored twice) and the
// index's digests, a few dozen bytes per item.
func BenchmarkVerifyMemory(b *testing.B) {
	for _, n := range []int{20_000, 100_000} {
		b.Run("items="+strconv.Itoa(n), func(b *testing.B) {
			path, exp := benchArchive(b, n)
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			var peak uint64
			for b.Loop() {
				b.StopTimer()
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				base := heapmeter.Bytes()
				sampler := heapmeter.Start()
				b.StartTimer()
				rep, err := Archive(context.Background(), f, exp, archive.Limits{})
				b.StopTimer()
				top := sampler.Stop()
				f.Close()
				if err != nil || !rep.Verified || rep.Items != n {
					b.Fatalf("verification: %v %+v", err, rep)
				}
				peak = max(peak, top-min(top, base))
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/float64(n), "peak-B/item")
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}

// benchArchive writes an archive of n ConfigMaps in 10 namespaces to a file.
func benchArchive(b *testing.B, n int) (string, Expected) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "backup.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := archive.NewWriter(f)
	if err != nil {
		b.Fatal(err)
	}
	pad := make([]byte, 160)
	for i := range pad {
		pad[i] = 'a' + byte(i%26)
	}
	for i := range n {
		ns, name := fmt.Sprintf("ns-%d", i%10), fmt.Sprintf("cm-%07d", i)
		data := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q,"labels":{"app":"bench"}},"data":{"index":"%d","pad":%q}}`, name, ns, i, pad)
		if err := w.Add(archive.Item{Resource: "configmaps", Namespace: ns, Name: name}, []byte(data)); err != nil {
			b.Fatal(err)
		}
	}
	sum, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	return path, Expected{SHA256: sum.SHA256, Size: sum.Size, ResourceCounts: map[string]int{"configmaps": n}}
}
