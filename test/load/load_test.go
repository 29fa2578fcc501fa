// Package load is Ark's load benchmark: it fills a real local cluster with N
// ConfigMaps of 1 KiB in 10 namespaces and times a backup and a restore
// through the real ark binary and server, next to the plain baselines (a
// paginated LIST + tar.gz + upload; a 16-worker CREATE), and reports the
// server's peak RSS for each N.
//
//	make load-bench                      # N = 1000, 5000, 20000
//	ARK_LOAD_BENCH=1000 make load-bench  # choose N
//	ARK_LOAD_BENCH_PLUGIN=1 make load-bench
//
// With ARK_LOAD_BENCH_PLUGIN=1, each N is run twice back to back: by a
// server without plugins, then by one with the no-op backup and restore
// item actions of test/plugins/noop (called for every ConfigMap), so the
// two rows show what the plugin protocol costs.
//
// With ARK_LOAD_BENCH_PROFILE=DIR, the server serves pprof on loopback and
// the benchmark saves heap profiles taken when a backup or restore is 90%
// done (DIR/heap-{backup,restore}-TAG.pb.gz, TAG being N or N-noop-plugin:
// go tool pprof -sample_index inuse_space FILE), to see what the server
// holds per item.
//
// ARK_LOAD_BENCH_SERVER_ARGS adds flags to the server, to compare settings
// (e.g. "--restore-workers 16").
package load

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore/providers"
	"github.com/heptio/ark/test/e2e/harness"
)

const namespaces = 10

var (
	profileDir  = os.Getenv("ARK_LOAD_BENCH_PROFILE")
	profileAddr string
)

var configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func TestLoadBenchmark(t *testing.T) {
	spec := os.Getenv("ARK_LOAD_BENCH")
	if spec == "" {
		t.Skip("ARK_LOAD_BENCH is unset: run `make load-bench` (ARK_LOAD_BENCH=1000,5000,20000)")
	}
	var sizes []int
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < namespaces {
			t.Fatalf("ARK_LOAD_BENCH=%q: give counts of at least %d, comma-separated", spec, namespaces)
		}
		sizes = append(sizes, n)
	}
	serverArgs := append([]string{"--log-level", "info"}, strings.Fields(os.Getenv("ARK_LOAD_BENCH_SERVER_ARGS"))...)
	if profileDir != "" {
		profileAddr = freeLoopbackAddr(t)
		serverArgs = append(serverArgs, "--profile-address", profileAddr)
	}
	noPlugins := append(slices.Clone(serverArgs), "--plugin-dir", t.TempDir())
	env := harness.Start(t, harness.Options{ServerArgs: noPlugins})
	withPlugin := os.Getenv("ARK_LOAD_BENCH_PLUGIN") != ""
	pluginDir := t.TempDir()
	if withPlugin {
		harness.BuildPlugin(t, ".", "./test/plugins/noop", filepath.Join(pluginDir, "noop"))
	}
	var rows []string
	for _, n := range sizes {
		rows = append(rows, runOnce(t, env, n, ""))
		if withPlugin {
			restartServer(t, env, append(slices.Clone(serverArgs), "--plugin-dir", pluginDir)...)
			rows = append(rows, runOnce(t, env, n, "noop plugin"))
			restartServer(t, env, noPlugins...)
		}
	}
	report := "\n" + fmt.Sprintf("%-20s %-28s %-28s %-12s %-28s %-28s %-12s\n", "N",
		"baseline LIST+tar.gz+upload", "ark backup --wait", "backup RSS", "baseline 16-worker CREATE", "ark restore --wait", "restore RSS") +
		strings.Join(rows, "\n")
	appendReport(report, t)
}

// restartServer starts the server again with args and waits until it
// answers (its controllers run), so no run is timed with a server starting.
func restartServer(t *testing.T, env *harness.Env, args ...string) {
	env.StopServer()
	env.SetServerArgs(args...)
	env.StartServer()
	out := env.MustArk("plugin", "get", "--timeout", "2m")
	t.Logf("server restarted with %v:\n%s", args, out)
}

// runOnce times one backup and one restore of n ConfigMaps; label tells
// the run apart in the report (and in the names of its namespaces).
func runOnce(t *testing.T, env *harness.Env, n int, label string) string {
	ctx := context.Background()
	tag := fmt.Sprint(n)
	if label != "" {
		tag += "-" + strings.ReplaceAll(label, " ", "-")
	}
	nsNames := make([]string, namespaces)
	for i := range nsNames {
		nsNames[i] = fmt.Sprintf("load-%s-%d", tag, i)
	}
	payload := strings.Repeat("x", 1024)

	create := func() time.Duration {
		for _, ns := range nsNames {
			env.EnsureNamespace(ns)
		}
		start := time.Now()
		parallel(16, n, func(i int) error {
			cm := &unstructured.Unstructured{Object: map[string]interface{}{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]interface{}{"name": fmt.Sprintf("cm-%d", i), "namespace": nsNames[i%namespaces]},
				"data":     map[string]interface{}{"payload": payload},
			}}
			_, err := env.Dynamic.Resource(configmaps).Namespace(nsNames[i%namespaces]).Create(ctx, cm, metav1.CreateOptions{})
			return err
		}, t)
		return time.Since(start)
	}
	cpu := newCPUMeter(env)
	createTime := create()
	createCPU := cpu.since()

	// Baseline backup: what any tool must at least do.
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", env.CredsFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	store, err := providers.New("aws", harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket).BackupStorageProvider.Config)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- store.PutObject(ctx, env.Bucket, fmt.Sprintf("baseline-%s.tar.gz", tag), pr) }()
	zw := gzip.NewWriter(pw)
	tw := tar.NewWriter(zw)
	listed := 0
	for _, ns := range nsNames {
		opts := metav1.ListOptions{Limit: 500}
		for {
			page, err := env.Dynamic.Resource(configmaps).Namespace(ns).List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, item := range page.Items {
				data, _ := json.Marshal(item.Object)
				_ = tw.WriteHeader(&tar.Header{Name: "resources/configmaps/namespaces/" + ns + "/" + item.GetName() + ".json", Size: int64(len(data)), Mode: 0o644})
				_, _ = tw.Write(data)
				listed++
			}
			if page.GetContinue() == "" {
				break
			}
			opts.Continue = page.GetContinue()
		}
	}
	tw.Close()
	zw.Close()
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	baseline := time.Since(start)

	pid := env.ServerPID()
	resetPeakRSS(pid)
	name := "load-" + tag
	start = time.Now()
	env.MustArk("backup", "create", name, "--include-namespaces", strings.Join(nsNames, ","))
	awaitFinal(t, env, &arkv1.Backup{}, name, string(arkv1.BackupPhaseCompleted), n, "heap-backup-"+tag+".pb.gz")
	backupTime := time.Since(start)
	backupRSS := peakRSS(pid)
	t.Logf("N=%d: ark backup %.1fs, server peak RSS %s", n, backupTime.Seconds(), mib(backupRSS))

	for _, ns := range nsNames {
		if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	env.Eventually(10*time.Minute, "load namespaces deleted", func() (bool, error) {
		for _, ns := range nsNames {
			if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return true, nil
	})
	// For 30 s after the API server sees a namespace terminating, its
	// NamespaceLifecycle admission looks the namespace up in storage for
	// every request in a namespace of that name (forceLiveLookupTTL): a
	// restore started at once pays a namespace GET per create, which the
	// baseline, creating into new namespaces, did not. Waiting it out
	// compares like with like (docs/performance.md says what the window
	// costs a restore right after a deletion).
	time.Sleep(31 * time.Second)
	resetPeakRSS(pid)
	rejectedBefore := apiServerRejections(t, env)
	requestsBefore := apiServerRequests(t, env)
	cpu = newCPUMeter(env)
	start = time.Now()
	env.MustArk("restore", "create", name+"-restore", "--from-backup", name)
	awaitFinal(t, env, &arkv1.Restore{}, name+"-restore", string(arkv1.RestorePhaseCompleted), n, "heap-restore-"+tag+".pb.gz")
	restoreTime := time.Since(start)
	restoreRSS := peakRSS(pid)
	restoreCPU := cpu.since()
	t.Logf("N=%d: ark restore %.1fs, server peak RSS %s; the API server answered %.0f requests 429 meanwhile; the server's write limit ended at %s",
		n, restoreTime.Seconds(), mib(restoreRSS), apiServerRejections(t, env)-rejectedBefore, writeLimit(t, env))
	t.Logf("N=%d: requests the API server served during the restore, most first: %s", n, topRequests(requestsBefore, apiServerRequests(t, env), 8))
	t.Logf("N=%d: CPU per object, baseline CREATE: %s; ark restore: %s", n, createCPU.perItem(n, "client"), restoreCPU.perItem(n, "ark server"))

	restored, err := env.Dynamic.Resource(configmaps).Namespace(nsNames[0]).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// kube-root-ca.crt is made by the controller-manager in each namespace.
	if got := len(restored.Items); got < n/namespaces {
		t.Fatalf("restore brought back %d configmaps in %s, want at least %d", got, nsNames[0], n/namespaces)
	}
	rate := func(d time.Duration) string {
		return fmt.Sprintf("%.1fs (%.0f obj/s)", d.Seconds(), float64(n)/d.Seconds())
	}
	row := fmt.Sprint(n)
	if label != "" {
		row += " (" + label + ")"
	}
	return fmt.Sprintf("%-20s %-28s %-28s %-12s %-28s %-28s %-12s", row, rate(baseline),
		rate(backupTime)+fmt.Sprintf(" %.2fx", backupTime.Seconds()/baseline.Seconds()), mib(backupRSS),
		rate(createTime), rate(restoreTime)+fmt.Sprintf(" %.2fx", restoreTime.Seconds()/createTime.Seconds()), mib(restoreRSS))
}

// awaitFinal polls a Backup or Restore until its phase is final and fails
// unless it is want. The CLI's --wait would do the same, but the harness
// stops a CLI after 10 minutes, and a 100,000-object restore on a loaded
// machine takes longer.
// With profiling on, it saves a heap profile (as profile) once 90% of the n
// items are done.
func awaitFinal(t *testing.T, env *harness.Env, obj client.Object, name, want string, n int, profile string) {
	t.Helper()
	final := map[string]bool{"Completed": true, "PartiallyFailed": true, "Failed": true, "FailedValidation": true}
	phase := ""
	profiled := profileDir == ""
	env.Eventually(3*time.Hour, fmt.Sprintf("%T %s to finish", obj, name), func() (bool, error) {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: arkv1.DefaultNamespace, Name: name}, obj); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		done := 0
		switch o := obj.(type) {
		// Progress is nil until the server first reports it.
		case *arkv1.Backup:
			phase = string(o.Status.Phase)
			if o.Status.Progress != nil {
				done = o.Status.Progress.ItemsBackedUp
			}
		case *arkv1.Restore:
			phase = string(o.Status.Phase)
			if o.Status.Progress != nil {
				done = o.Status.Progress.ItemsRestored
			}
		}
		if !profiled && done >= n*9/10 {
			profiled = true
			saveHeapProfile(t, filepath.Join(profileDir, profile))
		}
		return final[phase], nil
	})
	if phase != want {
		t.Fatalf("%s ended %s, want %s: %+v", name, phase, want, obj)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// saveHeapProfile fetches the server's heap profile into path.
func saveHeapProfile(t *testing.T, path string) {
	resp, err := http.Get("http://" + profileAddr + "/debug/pprof/heap")
	if err != nil {
		t.Logf("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	t.Logf("heap profile %s: %v", path, err)
}

func parallel(workers, n int, fn func(int) error, t *testing.T) {
	var wg sync.WaitGroup
	next := make(chan int)
	var once sync.Once
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// resetPeakRSS resets the kernel's peak-RSS counter of pid (VmHWM), so each
// measurement covers one operation.
func resetPeakRSS(pid int) { _ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) }

// peakRSS reads VmHWM of pid in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return -1
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// apiServerRejections is how many requests the API server has answered 429
// (priority and fairness) since it started, all priority levels together.
func apiServerRejections(t *testing.T, env *harness.Env) float64 {
	t.Helper()
	body, err := kubernetes.NewForConfigOrDie(env.Cluster.RESTConfig()).CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, m := range regexp.MustCompile(`(?m)^apiserver_flowcontrol_rejected_requests_total\{[^}]*\} (\S+)$`).FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		total += v
	}
	return total
}

// apiServerRequests is the API server's count of requests served, by
// verb, resource and code, since it started.
func apiServerRequests(t *testing.T, env *harness.Env) map[string]float64 {
	t.Helper()
	body, err := kubernetes.NewForConfigOrDie(env.Cluster.RESTConfig()).CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	label := func(labels, name string) string {
		if m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(labels); m != nil {
			return m[1]
		}
		return ""
	}
	for _, m := range regexp.MustCompile(`(?m)^apiserver_request_total\{([^}]*)\} (\S+)$`).FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		key := label(m[1], "verb") + " " + label(m[1], "resource")
		if sub := label(m[1], "subresource"); sub != "" {
			key += "/" + sub
		}
		counts[key+" "+label(m[1], "code")] += v
	}
	return counts
}

// topRequests renders the k largest increases from before to after.
func topRequests(before, after map[string]float64, k int) string {
	type row struct {
		key string
		n   float64
	}
	var rows []row
	for key, v := range after {
		if d := v - before[key]; d > 0 {
			rows = append(rows, row{key, d})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return int(b.n - a.n) })
	var out []string
	for i, r := range rows {
		if i == k {
			break
		}
		out = append(out, fmt.Sprintf("%s: %.0f", r.key, r.n))
	}
	return strings.Join(out, "; ")
}

// writeLimit is the server's adaptive write limit now, from its /metrics.
func writeLimit(t *testing.T, env *harness.Env) string {
	t.Helper()
	resp, err := http.Get("http://" + env.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^ark_api_write_concurrency_limit (\S+)$`).FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return "(not reported)"
}

// cpuMeter reads the CPU time the API server, etcd, this process (the
// baseline's client) and the ark server have used since it was made.
type cpuMeter struct {
	env   *harness.Env
	pids  map[string]int
	start map[string]time.Duration
}

func newCPUMeter(env *harness.Env) *cpuMeter {
	m := &cpuMeter{env: env, pids: map[string]int{"self": os.Getpid(), "ark": env.ServerPID()}}
	for _, p := range env.Cluster.Processes() {
		m.pids[p.Name] = p.PID
	}
	m.start = m.now()
	return m
}

func (m *cpuMeter) now() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range m.pids {
		out[name] = cpuTime(pid)
	}
	return out
}

// cpuUse is CPU time per process name over a stretch.
type cpuUse map[string]time.Duration

func (m *cpuMeter) since() cpuUse {
	use := cpuUse{}
	for name, t := range m.now() {
		use[name] = t - m.start[name]
	}
	return use
}

// perItem renders the CPU time per object of the API server, etcd, and the
// client (the named one: this process or the ark server).
func (u cpuUse) perItem(n int, client string) string {
	key := "self"
	if client == "ark server" {
		key = "ark"
	}
	per := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", d.Seconds()*1000/float64(n)) }
	return fmt.Sprintf("kube-apiserver %s, etcd %s, %s %s", per(u["kube-apiserver"]), per(u["etcd"]), client, per(u[key]))
}
