package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
	"github.com/heptio/ark/pkg/plugin/plugintest"
)

var (
	buildOnce sync.Once
	binary    string
)

// testPlugin builds pkg/plugin/internal/testplugin once per test binary.
func testPlugin(t *testing.T) string {
	buildOnce.Do(func() { binary = plugintest.Build(&onceT{T: t}, "../..", "./pkg/plugin/internal/testplugin") })
	if binary == "" {
		t.Fatal("the test plugin did not build")
	}
	return binary
}

// onceT keeps the built binary past the first test's cleanup.
type onceT struct{ *testing.T }

func (o *onceT) TempDir() string {
	dir, err := osMkdirTemp()
	if err != nil {
		o.Fatal(err)
	}
	return dir
}

func configMap(name, do string) *unstructured.Unstructured {
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetNamespace("ns")
	cm.SetName(name)
	if do != "" {
		cm.SetLabels(map[string]string{"test.ark.heptio.com/do": do})
	}
	return cm
}

func TestProvides(t *testing.T) {
	c := plugintest.Start(t, testPlugin(t), plugin.HostOptions{})
	version, plugins, err := c.Provides(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []plugin.Descriptor{
		{Kind: plugin.KindObjectStore, Name: "test.ark.heptio.com/memory"},
		{Kind: plugin.KindBlockStore, Name: "test.ark.heptio.com/memory"},
		{Kind: plugin.KindBackupItemAction, Name: "test.ark.heptio.com/annotate"},
		{Kind: plugin.KindRestoreItemAction, Name: "test.ark.heptio.com/annotate"},
	}
	if version != "v0.0.1-test" || fmt.Sprint(plugins) != fmt.Sprint(want) {
		t.Errorf("Provides = %q, %v; want v0.0.1-test, %v", version, plugins, want)
	}
}

func TestObjectStoreThroughTheProtocol(t *testing.T) {
	c := plugintest.Start(t, testPlugin(t), plugin.HostOptions{})
	ctx := context.Background()
	if _, err := c.ObjectStore(ctx, "test.ark.heptio.com/memory", nil); !errors.Is(err, plugin.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "plugin test.ark.heptio.com/memory: config needs bucket") {
		t.Errorf("a bad config gave %v; want the plugin's error, naming it, wrapping ErrInvalidConfig", err)
	}
	if _, err := c.ObjectStore(ctx, "test.ark.heptio.com/nothing", nil); err == nil || !strings.Contains(err.Error(), `no objectstore named "test.ark.heptio.com/nothing"`) {
		t.Errorf("an unknown name gave %v", err)
	}
	store, err := c.ObjectStore(ctx, "test.ark.heptio.com/memory", map[string]string{"bucket": "b"})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckObjectStore(t, store, "b")
	if _, err := store.ListObjects(ctx, "other", ""); !errors.Is(err, plugin.ErrBucketNotFound) {
		t.Errorf("listing a missing bucket gave %v; want ErrBucketNotFound across the protocol", err)
	}
	if c.Restarts() != 0 {
		t.Errorf("the plugin restarted %d times", c.Restarts())
	}
}

func TestBlockStoreThroughTheProtocol(t *testing.T) {
	c := plugintest.Start(t, testPlugin(t), plugin.HostOptions{})
	ctx := context.Background()
	store, err := c.BlockStore(ctx, "test.ark.heptio.com/memory", nil)
	if err != nil {
		t.Fatal(err)
	}
	pv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv-1"},
		"spec": map[string]any{"csi": map[string]any{"driver": "test.ark.heptio.com", "volumeHandle": "vol-a"}},
	}}
	plugintest.CheckBlockStore(t, store, pv, "zone-a")
	foreign := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv-2"},
		"spec": map[string]any{"hostPath": map[string]any{"path": "/data"}},
	}}
	if id, err := store.GetVolumeID(foreign); id != "" || err != nil {
		t.Errorf("GetVolumeID of a PV the store does not own = %q, %v; want \"\" and no error", id, err)
	}
	if c.Restarts() != 0 {
		t.Errorf("the plugin restarted %d times", c.Restarts())
	}
}

func TestBackupItemActionBatch(t *testing.T) {
	c := plugintest.Start(t, testPlugin(t), plugin.HostOptions{})
	action := c.BackupItemAction("test.ark.heptio.com/annotate")
	sel, err := action.AppliesTo()
	if err != nil || fmt.Sprint(sel.IncludedResources) != "[configmaps]" || fmt.Sprint(sel.ExcludedNamespaces) != "[kube-system]" {
		t.Fatalf("AppliesTo = %+v, %v", sel, err)
	}
	var items []*unstructured.Unstructured
	for i := range 1000 {
		do := ""
		switch i {
		case 10:
			do = "panic"
		case 20:
			do = "error"
		case 30:
			do = "rename"
		case 40:
			do = "noop"
		}
		items = append(items, configMap(fmt.Sprintf("cm-%d", i), do))
	}
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1"}}
	results := plugin.ExecuteBackupItems(context.Background(), action, items, backup)
	for i, r := range results {
		switch i {
		case 10:
			checkErr(t, r.Err, "plugin test.ark.heptio.com/annotate: panic: told to panic on cm-10")
		case 20:
			checkErr(t, r.Err, "plugin test.ark.heptio.com/annotate: refused cm-20")
		case 30:
			checkErr(t, r.Err, "returned ns/cm-30-renamed instead of the item it was given")
		case 40:
			if r.Err != nil || r.Item != items[i] {
				t.Errorf("an unchanged item came back as %v, %v; want the host's own object", r.Item, r.Err)
			}
		default:
			if r.Err != nil || r.Item.GetAnnotations()["test.ark.heptio.com/backup"] != "b1" || len(r.Additional) != 1 || r.Additional[0].Name != items[i].GetName() {
				t.Fatalf("item %d: %+v", i, r)
			}
		}
	}
	if c.Restarts() != 0 {
		t.Errorf("a panic in an action restarted the plugin (%d restarts); it should only fail its item", c.Restarts())
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v; want one containing %q", err, want)
	}
}

// TestCrashAndHangAreIsolated: a batch in which one item crashes the
// process and one hangs it fails those two items only, with reasons that
// name the plugin, and the plugin serves the next call.
func TestCrashAndHangAreIsolated(t *testing.T) {
	log := &syncWriter{w: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(log, nil))
	c := plugintest.Start(t, testPlugin(t), plugin.HostOptions{CallTimeout: 2 * time.Second, Log: logger})
	action := c.RestoreItemAction("test.ark.heptio.com/annotate")
	var items []*unstructured.Unstructured
	for i := range 50 {
		do := ""
		switch i {
		case 5:
			do = "crash"
		case 25:
			do = "hang"
		}
		items = append(items, configMap(fmt.Sprintf("cm-%d", i), do))
	}
	restore := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r1"}}
	results := plugin.ExecuteRestoreItems(context.Background(), action, items, restore)
	for i, r := range results {
		switch i {
		case 5:
			checkErr(t, r.Err, "plugin test.ark.heptio.com/annotate: binary "+c.Path()+" crashed")
		case 25:
			checkErr(t, r.Err, "plugin test.ark.heptio.com/annotate: binary "+c.Path()+" did not answer within 2s")
		default:
			if r.Err != nil || r.Item.GetLabels()["test.ark.heptio.com/restore"] != "r1" || r.Warning != "restored by the test plugin" {
				t.Errorf("item %d: %+v", i, r)
			}
		}
	}
	// The batch crashed (restart 1), item 5 crashed again (2), item 25 hung (3).
	if c.Restarts() < 2 {
		t.Errorf("the plugin restarted %d times; want it started again after each crash and hang", c.Restarts())
	}
	if _, _, err := c.Provides(context.Background()); err != nil {
		t.Errorf("after the crash and the hang the plugin does not answer: %v", err)
	}
	if out := log.String(); !strings.Contains(out, "crashing on purpose") || !strings.Contains(out, "plugin="+pluginBase(c)) {
		t.Errorf("the plugin's own log line is not in the host's log under its name:\n%s", out)
	}
}

func pluginBase(c *plugin.Client) string {
	p := c.Path()
	return p[strings.LastIndex(p, "/")+1:]
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func TestNamesNeedADomain(t *testing.T) {
	for _, ok := range []string{"example.com/mystore", "ark.example.org/a_b-c.d"} {
		if err := plugin.ValidateName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"aws", "mystore", "example/mystore", "Example.com/x", "example.com/", "example.com/a/b"} {
		if err := plugin.ValidateName(bad); err == nil || !strings.Contains(err.Error(), "e.g. example.com/mystore") {
			t.Errorf("%s accepted (%v)", bad, err)
		}
	}
}

// TestConcurrentCallsSurviveAnotherCallsCrash: calls run side by side on
// one process (restores run many workers, one item per call); when one
// item crashes the process, the calls in flight beside it are made again
// on the restarted process and succeed, and only the crashing item fails,
// naming the plugin.
func TestConcurrentCallsSurviveAnotherCallsCrash(t *testing.T) {
	c := plugintest.Start(t, testPlugin(t), plugin.HostOptions{CallTimeout: 10 * time.Second})
	action := c.RestoreItemAction("test.ark.heptio.com/annotate")
	restore := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r1"}}
	// Start the process first, so every call below runs on the same one.
	if _, _, err := c.Provides(context.Background()); err != nil {
		t.Fatal(err)
	}
	const calls, crasher = 16, 7
	type answer struct {
		item    *unstructured.Unstructured
		warning string
		err     error
	}
	answers := make([]answer, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		do := "slow" // in flight for 200ms, while the crash happens
		if i == crasher {
			do = "crash"
		}
		item := configMap(fmt.Sprintf("cm-%d", i), do)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i == crasher {
				time.Sleep(50 * time.Millisecond) // the others are in flight by now
			}
			a := &answers[i]
			a.item, a.warning, a.err = action.Execute(context.Background(), item, restore)
		}()
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		if i == crasher {
			checkErr(t, a.err, "plugin test.ark.heptio.com/annotate: binary "+c.Path()+" crashed")
			continue
		}
		if a.err != nil || a.item.GetLabels()["test.ark.heptio.com/restore"] != "r1" || a.warning != "restored by the test plugin" {
			t.Errorf("call %d, in flight beside the crash, failed: %v", i, a.err)
		}
	}
	// The crash (1), and the crashing item made again alone (2).
	if c.Restarts() < 2 {
		t.Errorf("the plugin restarted %d times; want at least 2 (the crash, the crashing item made again alone)", c.Restarts())
	}
}
