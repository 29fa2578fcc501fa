package archive

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"
)

// benchItems returns n items of about size bytes of JSON each, shaped like
// ConfigMaps spread over 20 namespaces, with varied content so compression
// does realistic work.
func benchItems(n, size int) []testItem {
	items := make([]testItem, n)
	for i := range items {
		it := Item{Resource: "configmaps", Namespace: "ns-" + strconv.Itoa(i%20), Name: fmt.Sprintf("config-%06d", i)}
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q,"uid":"%08x-1c2d-4e5f-8a9b-%012x","resourceVersion":"%d"},"data":{`, it.Name, it.Namespace, i*2654435761, i*40503, 100000+i)
		for k := 0; b.Len() < size-40; k++ {
			fmt.Fprintf(&b, `"key%d":"value-%x-%d",`, k, (i+1)*(k+7)*2654435761, k)
		}
		b.WriteString(`"end":"1"}}`)
		items[i] = testItem{item: it, data: b.Bytes()}
	}
	return items
}

func totalSize(items []testItem) int64 {
	var n int64
	for _, it := range items {
		n += int64(len(it.data))
	}
	return n
}

// BenchmarkWriter writes 10k items of 1 KiB JSON; MB/s counts uncompressed
// item bytes.
func BenchmarkWriter(b *testing.B) {
	items := benchItems(10000, 1024)
	b.SetBytes(totalSize(items))
	b.ReportAllocs()
	var compressed int64
	for b.Loop() {
		w, err := NewWriter(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if err := w.Add(it.item, it.data); err != nil {
				b.Fatal(err)
			}
		}
		sum, err := w.Close()
		if err != nil {
			b.Fatal(err)
		}
		compressed = sum.Size
	}
	b.ReportMetric(float64(compressed), "compressed-bytes")
}

// BenchmarkReader reads the same archive back, with every check.
func BenchmarkReader(b *testing.B) {
	items := benchItems(10000, 1024)
	data, _ := writeArchive(b, items)
	b.SetBytes(totalSize(items))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != len(items) {
			b.Fatalf("read %d items", n)
		}
	}
}

// BenchmarkExtract reads the archive and writes it to disk, as a restore does.
func BenchmarkExtract(b *testing.B) {
	items := benchItems(10000, 1024)
	data, _ := writeArchive(b, items)
	b.SetBytes(totalSize(items))
	b.ReportAllocs()
	parent := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		if _, err := Extract(bytes.NewReader(data), filepath.Join(parent, strconv.Itoa(i)), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
