package load

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestFleetOfBackups times what a fleet of per-namespace schedules due at
// the same minute asks of the server: ARK_LOAD_BENCH_FLEET=S,K creates S
// namespaces of K ConfigMaps, then S Backups at once (what the schedule
// controller does when they are all due), and measures the time until all
// are Completed with --concurrent-backups 1 (one after another) and with the
// default.
func TestFleetOfBackups(t *testing.T) {
	spec := os.Getenv("ARK_LOAD_BENCH_FLEET")
	if spec == "" {
		t.Skip("ARK_LOAD_BENCH_FLEET is unset (e.g. ARK_LOAD_BENCH_FLEET=20,500: 20 namespaces of 500 ConfigMaps)")
	}
	var schedules, perNamespace int
	if _, err := fmt.Sscanf(spec, "%d,%d", &schedules, &perNamespace); err != nil || schedules < 1 || perNamespace < 1 {
		t.Fatalf("ARK_LOAD_BENCH_FLEET=%q: give S,K (namespaces, ConfigMaps in each)", spec)
	}
	env := harness.Start(t, harness.Options{NoServer: true})
	ctx := context.Background()
	nsNames := make([]string, schedules)
	for i := range nsNames {
		nsNames[i] = fmt.Sprintf("fleet-%d", i)
		env.EnsureNamespace(nsNames[i])
	}
	payload := strings.Repeat("x", 1024)
	parallel(16, schedules*perNamespace, func(i int) error {
		ns := nsNames[i%schedules]
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"payload": payload}}
		return env.Client.Create(ctx, cm)
	}, t)

	var rows []string
	for _, concurrency := range []int{1, 4} {
		env.SetServerArgs("--concurrent-backups", strconv.Itoa(concurrency), "--log-level", "info")
		env.StartServer()
		start := time.Now()
		for i, ns := range nsNames {
			b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: fmt.Sprintf("fleet-c%d-%d", concurrency, i)},
				Spec: arkv1.BackupSpec{IncludedNamespaces: []string{ns}}}
			if err := env.Client.Create(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		env.Eventually(30*time.Minute, "the fleet's backups completed", func() (bool, error) {
			var list arkv1.BackupList
			if err := env.Client.List(ctx, &list, client.InNamespace(harness.Namespace)); err != nil {
				return false, err
			}
			done := 0
			for _, b := range list.Items {
				if !strings.HasPrefix(b.Name, fmt.Sprintf("fleet-c%d-", concurrency)) {
					continue
				}
				switch b.Status.Phase {
				case arkv1.BackupPhaseCompleted:
					done++
				case arkv1.BackupPhaseFailed, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailedValidation:
					return false, fmt.Errorf("backup %s ended %s", b.Name, b.Status.Phase)
				}
			}
			return done == schedules, nil
		})
		took := time.Since(start)
		rows = append(rows, fmt.Sprintf("| %d | %d × %d | %.1f s | %.0f obj/s |", concurrency, schedules, perNamespace,
			took.Seconds(), float64(schedules*perNamespace)/took.Seconds()))
		env.StopServer()
	}
	report("fleet of backups due together",
		"| --concurrent-backups | namespaces × ConfigMaps | all Completed after | throughput |\n|---|---|---|---|\n"+strings.Join(rows, "\n"), t)
}

// TestProtobufVsJSON measures what the API server spends on creates sent as
// JSON (what Ark's dynamic client sends) and as protobuf:
// ARK_LOAD_BENCH_PROTOBUF=N creates N ConfigMaps of 1 KiB each way, with 16
// workers and no client-side limit, and reports the wall time and the CPU
// time of the API server and etcd (from /proc), and of this client.
func TestProtobufVsJSON(t *testing.T) {
	spec := os.Getenv("ARK_LOAD_BENCH_PROTOBUF")
	if spec == "" {
		t.Skip("ARK_LOAD_BENCH_PROTOBUF is unset (e.g. ARK_LOAD_BENCH_PROTOBUF=20000)")
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n < 1 {
		t.Fatalf("ARK_LOAD_BENCH_PROTOBUF=%q: give a count", spec)
	}
	env := harness.Start(t, harness.Options{NoServer: true})
	pids := map[string]int{}
	for _, p := range env.Cluster.Processes() {
		pids[p.Name] = p.PID
	}
	payload := strings.Repeat("x", 1024)
	var rows []string
	// Twice each, interleaved, so a warm-up or a neighbour's burst does not
	// decide the comparison.
	for round, contentType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeProtobuf, runtime.ContentTypeJSON, runtime.ContentTypeProtobuf} {
		cfg := env.Cluster.RESTConfig()
		cfg.QPS = -1
		cfg.ContentType = contentType
		cs := kubernetes.NewForConfigOrDie(cfg)
		ns := fmt.Sprintf("pb-%d", round)
		env.EnsureNamespace(ns)
		apiBefore, etcdBefore, selfBefore := cpuTime(pids["kube-apiserver"]), cpuTime(pids["etcd"]), cpuTime(os.Getpid())
		start := time.Now()
		parallel(16, n, func(i int) error {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"payload": payload}}
			_, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{})
			return err
		}, t)
		took := time.Since(start)
		rows = append(rows, fmt.Sprintf("| %s | %d | %.1f s (%.0f obj/s) | %.1f s | %.1f s | %.1f s |", contentType, n, took.Seconds(), float64(n)/took.Seconds(),
			(cpuTime(pids["kube-apiserver"])-apiBefore).Seconds(), (cpuTime(pids["etcd"])-etcdBefore).Seconds(), (cpuTime(os.Getpid())-selfBefore).Seconds()))
	}
	report("creates as JSON and as protobuf",
		"| content type | N | wall time | kube-apiserver CPU | etcd CPU | client CPU |\n|---|---|---|---|---|---|\n"+strings.Join(rows, "\n"), t)
}

// cpuTime is the user+system CPU time of a process, from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// report logs a table and appends it to $ARK_LOAD_BENCH_REPORT.
func report(title, table string, t *testing.T) {
	appendReport("\n"+title+"\n"+table, t)
}

func appendReport(text string, t *testing.T) {
	text += "\n"
	t.Log(text)
	if out := os.Getenv("ARK_LOAD_BENCH_REPORT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, _ = f.WriteString(text)
			f.Close()
		}
	}
}
