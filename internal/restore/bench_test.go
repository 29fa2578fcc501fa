package restore

import (
	"context"
	"fmt"
	"testing"

	arkv1 "github.com/heptio/ark/api/v1"
)

// BenchmarkRestoreConfigMaps restores 1000 ConfigMaps through a real
// kube-apiserver, each iteration into a new namespace, with 1 and with the
// default number of workers. Needs $ARK_TESTBIN_DIR like the integration
// tests:
//
//	ARK_TESTBIN_DIR=$(hack/build-testbin.sh) go test ./internal/restore/ -run '^$' -bench RestoreConfigMaps -benchtime 3x
func BenchmarkRestoreConfigMaps(b *testing.B) {
	const items = 1000
	c := startLiveCluster(b)
	var objs []backedUp
	for i := range items {
		objs = append(objs, configMap("bench", fmt.Sprintf("cm-%04d", i), map[string]any{"key": fmt.Sprintf("value-%d", i)}))
	}
	contents := writeContents(b, objs...)
	run := 0
	for _, workers := range []int{1, DefaultWorkers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			iterations := 0
			for b.Loop() {
				run++
				iterations++
				b.StopTimer()
				disc := c.discovery(b)
				b.StartTimer()
				res, err := Run(context.Background(), Options{
					Restore:   newRestore(fmt.Sprintf("bench-%d", run), arkv1.RestoreSpec{NamespaceMapping: map[string]string{"bench": fmt.Sprintf("bench-%d", run)}}),
					Contents:  contents,
					Discovery: disc,
					Dynamic:   c.dynamic,
					Workers:   workers,
				})
				if err != nil || res.ItemsRestored != items {
					b.Fatalf("restored %d of %d: %v %+v", res.ItemsRestored, items, err, res.Errors)
				}
			}
			b.ReportMetric(float64(items*iterations)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
