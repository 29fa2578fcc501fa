package restorefiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
)

func gunzip(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// logLines is a log that compresses poorly (random hex), so its gzip is
// about half its size.
func logLines(n int) string {
	rng := rand.New(rand.NewSource(1))
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "time=2026-01-01T00:00:00Z level=INFO msg=\"restored item\" n=%d id=%016x%016x\n", i, rng.Uint64(), rng.Uint64())
	}
	return b.String()
}

func TestKeepAndOpen(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = arkv1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	ctx := context.Background()
	rs := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "r1", UID: "uid-r1"}}

	small := "one line\n"
	warnings := arkv1.RestoreResult{Ark: []string{"a note"}}
	errs := arkv1.RestoreResult{Namespaces: map[string][]string{"shop": {"could not restore x"}}}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(small))
	_ = zw.Close()
	name, err := Keep(ctx, c, rs, bytes.NewReader(gz.Bytes()), &warnings, &errs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "ark-restore-files-r1-") {
		t.Fatalf("name %q", name)
	}
	rs.Status.FilesConfigMap = name
	rc, err := Open(ctx, c, rs, arkv1.RestoreFilesLogKey)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	if got := gunzip(t, data); got != small {
		t.Fatalf("log %q", got)
	}
	rc, err = Open(ctx, c, rs, arkv1.RestoreFilesResultsKey)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(rc)
	var results map[string]arkv1.RestoreResult
	if err := json.Unmarshal([]byte(gunzip(t, data)), &results); err != nil {
		t.Fatal(err)
	}
	if results["warnings"].Ark[0] != "a note" || results["errors"].Namespaces["shop"][0] != "could not restore x" {
		t.Fatalf("results %+v", results)
	}

	// A restore of the same name made again (the old ConfigMap not yet
	// collected) gets a ConfigMap of its own.
	again, err := Keep(ctx, c, rs, nil, &warnings, &errs)
	if err != nil || again == name {
		t.Fatalf("second ConfigMap %q, %v", again, err)
	}
	rs.Status.FilesConfigMap = again
	if _, err := Open(ctx, c, rs, arkv1.RestoreFilesLogKey); err == nil || !strings.Contains(err.Error(), "has no restore-log.gz") {
		t.Fatalf("log of a restore that kept none: %v", err)
	}

	long := strings.Repeat("r", 250)
	if n := GenerateName(long); len(n)+5 > 253 || !strings.HasPrefix(n, "ark-restore-files-") || n == GenerateName(long+"x") {
		t.Fatalf("name of a long restore: %q", n)
	}
}

func TestFitLogKeepsTheEnd(t *testing.T) {
	text := logLines(20_000) // ~1.8 MB, ~0.8 MB gzipped
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(text))
	_ = zw.Close()
	const budget = 100 << 10
	out, err := fitLog(bytes.NewReader(gz.Bytes()), budget)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > budget {
		t.Fatalf("%d bytes, over the budget of %d", len(out), budget)
	}
	got := gunzip(t, out)
	first, rest, _ := strings.Cut(got, "\n")
	if !strings.HasPrefix(first, "[the first ") || !strings.Contains(first, fmt.Sprintf("of this log's %d bytes are not kept", len(text))) {
		t.Fatalf("first line %q", first)
	}
	if !strings.HasSuffix(text, rest) || !strings.HasPrefix(rest, "time=") || len(rest) < budget {
		t.Fatalf("kept %d bytes that are not the log's end (whole lines)", len(rest))
	}

	// A log that fits is kept byte for byte.
	small := gz.Bytes()[:0:0]
	var sgz bytes.Buffer
	zw = gzip.NewWriter(&sgz)
	_, _ = zw.Write([]byte("short\n"))
	_ = zw.Close()
	small = append(small, sgz.Bytes()...)
	out, err = fitLog(bytes.NewReader(small), budget)
	if err != nil || !bytes.Equal(out, small) {
		t.Fatalf("a small log was changed: %v", err)
	}
}

func TestFitResultsCutsLongLists(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var msgs []string
	for i := range 10_000 {
		msgs = append(msgs, fmt.Sprintf("could not restore ConfigMap shop/cm-%d: %016x", i, rng.Uint64()))
	}
	errs := arkv1.RestoreResult{Namespaces: map[string][]string{"shop": msgs}, Ark: []string{"one"}}
	const max = 32 << 10
	out, err := fitResults(arkv1.RestoreResult{}, errs, max)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > max {
		t.Fatalf("%d bytes", len(out))
	}
	var results map[string]arkv1.RestoreResult
	if err := json.Unmarshal([]byte(gunzip(t, out)), &results); err != nil {
		t.Fatal(err)
	}
	kept := results["errors"].Namespaces["shop"]
	if len(kept) < 100 || kept[0] != msgs[0] || !strings.Contains(kept[len(kept)-1], fmt.Sprintf("and %d more, not kept", len(msgs)-(len(kept)-1))) {
		t.Fatalf("kept %d messages, last %q", len(kept), kept[len(kept)-1])
	}
	if results["errors"].Ark[0] != "one" {
		t.Fatalf("short list changed: %v", results["errors"].Ark)
	}
}
