package archive

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/heptio/ark/internal/heapmeter"
)

// BenchmarkExtractMemory measures what a restore of N objects costs in memory
// before it creates anything: Extract of the whole archive with every check
// (index verification included), and what the returned Contents keeps while
// the restore runs. Run it with
//
//	go test ./internal/archive -run '^$' -bench ExtractMemory -benchtime 1x
//
// peak-B/item is the highest heap (live and not yet collected objects) seen
// while Extract runs, sampled every millisecond, above the heap before it;
// retained-B/item is the heap the Contents holds after a GC. They are what
// the restore's RSS grows by per object.
func BenchmarkExtractMemory(b *testing.B) {
	for _, n := range []int{100_000} {
		b.Run("items="+strconv.Itoa(n), func(b *testing.B) {
			data, _ := writeArchive(b, benchItems(n, 256))
			parent := b.TempDir()
			var peak, retained float64
			i := 0
			for b.Loop() {
				i++
				b.StopTimer()
				runtime.GC()
				base := heapmeter.Bytes()
				sampler := heapmeter.Start()
				b.StartTimer()
				contents, err := Extract(bytes.NewReader(data), filepath.Join(parent, strconv.Itoa(i)), Limits{})
				b.StopTimer()
				top := sampler.Stop()
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				kept := heapmeter.Bytes()
				runtime.KeepAlive(contents)
				peak = float64(top-min(top, base)) / float64(n)
				retained = float64(kept-min(kept, base)) / float64(n)
				b.StartTimer()
			}
			b.ReportMetric(peak, "peak-B/item")
			b.ReportMetric(retained, "retained-B/item")
		})
	}
}
