package backupdiff

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/heapmeter"
)

// BenchmarkBackupsMemory measures `ark backup diff A B` of two backups of N
// ConfigMaps of which 1% changed: the highest heap seen while Backups runs,
// above the heap before it (the two archives themselves are in memory before
// it starts and not counted), per item and in total. Run it with
//
//	go test ./internal/backupdiff -run '^$' -bench BackupsMemory -benchtime 1x
//
// What grows with N is the digest per item of the first backup (Backups'
// doc comment) and the changed items' normalized copies.
func BenchmarkBackupsMemory(b *testing.B) {
	d := discovery(b)
	for _, n := range []int{20_000, 100_000} {
		b.Run("items="+strconv.Itoa(n), func(b *testing.B) {
			first, second := make([]*unstructured.Unstructured, n), make([]*unstructured.Unstructured, n)
			for i := range n {
				ns, name := fmt.Sprintf("ns-%d", i%10), fmt.Sprintf("cm-%07d", i)
				first[i] = cm(ns, name, "1", map[string]any{"index": strconv.Itoa(i)})
				v := strconv.Itoa(i)
				if i%100 == 0 {
					v += "-changed"
				}
				second[i] = cm(ns, name, "2", map[string]any{"index": v})
			}
			a, c := archiveOf(b, first...), archiveOf(b, second...)
			first, second = nil, nil
			opts := Options{Scope: scope(b, d, arkv1.RestoreSpec{})}
			var peak uint64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := heapmeter.Bytes()
				sampler := heapmeter.Start()
				b.StartTimer()
				rep, err := Backups(context.Background(), opener(a), opener(c), "A", "B", opts)
				b.StopTimer()
				top := sampler.Stop()
				if err != nil || rep.Total.Changed != n/100 || rep.Total.Unchanged != n-n/100 {
					b.Fatalf("diff: %v %+v", err, rep.Total)
				}
				peak = max(peak, top-min(top, base))
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/float64(n), "peak-B/item")
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}
