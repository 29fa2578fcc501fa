package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	flowv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestRestoreThrottledAndConcurrent runs the server as a service account
// that API priority and fairness gives a tiny share (3 seats, a queue of 1,
// the rest answered 429): a restore of 1,200 ConfigMaps still completes with
// every item and no error, because the server's adaptive write limit backs
// off instead of retrying into the wall, while another client is served
// throughout. Then, with the share lifted, two restores into different
// namespaces and a backup run at the same time and all finish correctly.
func TestRestoreThrottledAndConcurrent(t *testing.T) {
	env := harness.Start(t, harness.Options{NoServer: true})
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Cluster.RESTConfig())

	serverKubeconfig := serviceAccountKubeconfig(t, env, cs, "ark-throttled")
	bystander := serviceAccountKubeconfig(t, env, cs, "bystander")
	env.EnsureNamespace("bystander")
	limitShare(t, cs, "ark-throttled")
	env.SetServerArgs("--kubeconfig", serverKubeconfig, "--concurrent-restores", "2", "--concurrent-backups", "2")
	env.StartServer()

	const perNamespace = 600
	createAppNamespace(t, env, "tp-a", perNamespace)
	createAppNamespace(t, env, "tp-b", perNamespace)
	mustBackup(t, env, "tp", "--include-namespaces", "tp-a,tp-b", "--selector", "app") // not what the controller-manager puts in every namespace
	restoreDeleteNamespace(t, env, "tp-a")
	restoreDeleteNamespace(t, env, "tp-b")

	other := bystanderClient(t, bystander)
	before := other.measure(t, 20)
	stop := other.runUntilStopped(t)
	r := restoreMustComplete(t, env, "tp-throttled", "tp", 0)
	during := stop()
	if r.Status.Progress.ItemsRestored != r.Status.Progress.TotalItems || r.Status.Progress.TotalItems < 2*perNamespace {
		t.Errorf("throttled restore restored %d of %d items, want all of at least %d", r.Status.Progress.ItemsRestored, r.Status.Progress.TotalItems, 2*perNamespace)
	}
	for _, ns := range []string{"tp-a", "tp-b"} {
		var cms corev1.ConfigMapList
		if err := env.Client.List(ctx, &cms, client.InNamespace(ns), client.MatchingLabels{"app": ns}); err != nil {
			t.Fatal(err)
		}
		if len(cms.Items) != perNamespace {
			t.Errorf("namespace %s has %d of its %d ConfigMaps after the throttled restore", ns, len(cms.Items), perNamespace)
		}
	}
	if during.errors > 0 {
		t.Errorf("the other client had %d of %d requests fail during the restore: %s", during.errors, during.count, during.firstErr)
	}
	dispatched, rejected := priorityLevelCounts(t, cs, "ark-throttled")
	if dispatched < 2*perNamespace {
		t.Fatalf("the tiny priority level dispatched %v requests, fewer than the restore's %d creates: the server did not run under it", dispatched, 2*perNamespace)
	}
	_, metrics, err := httpGet("http://" + env.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	limit := regexp.MustCompile(`(?m)^ark_api_write_concurrency_limit (\S+)$`).FindStringSubmatch(metrics)
	if limit == nil {
		t.Fatalf("the server's /metrics has no ark_api_write_concurrency_limit:\n%s", metrics)
	}
	t.Logf("throttled restore: %d items; priority level ark-throttled dispatched %v requests, rejected %v (429); "+
		"the server's write limit ended at %s; other client: median %v before, %v during the restore (%d requests, 0 errors)",
		r.Status.Progress.ItemsRestored, dispatched, rejected, limit[1], before.median(), during.median(), during.count)

	// Several at once, at full speed.
	if err := cs.FlowcontrolV1().FlowSchemas().Delete(ctx, "ark-throttled", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tp-copy-a", "tp-copy-b"} {
		source := "tp-" + strings.TrimPrefix(name, "tp-copy-")
		env.MustArk("restore", "create", name, "--from-backup", "tp", "--include-namespaces", source, "--namespace-mappings", source+":"+name)
	}
	env.MustArk("backup", "create", "tp-during", "--include-namespaces", "tp-a")
	bothRunning := false
	env.Eventually(5*time.Minute, "the two restores and the backup finished", func() (bool, error) {
		a, b := restoreFetch(t, env, "tp-copy-a"), restoreFetch(t, env, "tp-copy-b")
		if a.Status.Phase == arkv1.RestorePhaseInProgress && b.Status.Phase == arkv1.RestorePhaseInProgress {
			bothRunning = true
		}
		bk, err := getBackup(env, "tp-during")
		if err != nil {
			return false, err
		}
		return finished(a.Status.Phase) && finished(b.Status.Phase) && bk.Status.Phase != arkv1.BackupPhaseNew && bk.Status.Phase != arkv1.BackupPhaseInProgress, nil
	})
	for _, name := range []string{"tp-copy-a", "tp-copy-b"} {
		rs := restoreFetch(t, env, name)
		if rs.Status.Phase != arkv1.RestorePhaseCompleted || rs.Status.Errors != 0 || rs.Status.Progress.ItemsRestored < perNamespace {
			t.Errorf("concurrent restore %s: phase %s, %d errors, %d items restored (want Completed, 0, at least %d)",
				name, rs.Status.Phase, rs.Status.Errors, rs.Status.Progress.ItemsRestored, perNamespace)
		}
		var cms corev1.ConfigMapList
		if err := env.Client.List(ctx, &cms, client.InNamespace(name)); err != nil {
			t.Fatal(err)
		}
		if n := countLabeled(cms.Items, "app"); n != perNamespace {
			t.Errorf("namespace %s has %d of the %d restored ConfigMaps", name, n, perNamespace)
		}
	}
	if bk, _ := getBackup(env, "tp-during"); bk == nil || bk.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Errorf("the backup run beside the restores ended %v, want Completed", bk)
	}
	if !bothRunning {
		t.Errorf("the two restores were never InProgress at the same time: --concurrent-restores 2 did not run them together")
	}
}

func finished(p arkv1.RestorePhase) bool {
	return p != "" && p != arkv1.RestorePhaseNew && p != arkv1.RestorePhaseInProgress
}

func countLabeled(items []corev1.ConfigMap, label string) int {
	n := 0
	for _, cm := range items {
		if _, ok := cm.Labels[label]; ok {
			n++
		}
	}
	return n
}

// serviceAccountKubeconfig makes a service account in Ark's namespace and a
// kubeconfig that authenticates as it (the cluster authorizes everyone).
func serviceAccountKubeconfig(t *testing.T, env *harness.Env, cs kubernetes.Interface, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: name}}
	if _, err := cs.CoreV1().ServiceAccounts(harness.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(harness.Namespace).CreateToken(ctx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin := env.Cluster.RESTConfig()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData, CertificateAuthority: admin.CAFile}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = "local"
	path := filepath.Join(env.Dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func ptrTo[T any](v T) *T { return &v }

// limitShare puts every request of the service account into a priority
// level of one share (3 of the API server's 600 seats), with a queue of one:
// the rest is answered 429 at once.
func limitShare(t *testing.T, cs kubernetes.Interface, sa string) {
	t.Helper()
	ctx := context.Background()
	pl := &flowv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		Spec: flowv1.PriorityLevelConfigurationSpec{
			Type: flowv1.PriorityLevelEnablementLimited,
			Limited: &flowv1.LimitedPriorityLevelConfiguration{
				NominalConcurrencyShares: ptrTo(int32(1)),
				LendablePercent:          ptrTo(int32(0)),
				LimitResponse: flowv1.LimitResponse{Type: flowv1.LimitResponseTypeQueue,
					Queuing: &flowv1.QueuingConfiguration{Queues: 1, HandSize: 1, QueueLengthLimit: 1}},
			},
		},
	}
	if _, err := cs.FlowcontrolV1().PriorityLevelConfigurations().Create(ctx, pl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fs := &flowv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		Spec: flowv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowv1.PriorityLevelConfigurationReference{Name: sa},
			MatchingPrecedence:         500,
			DistinguisherMethod:        &flowv1.FlowDistinguisherMethod{Type: flowv1.FlowDistinguisherMethodByUserType},
			Rules: []flowv1.PolicyRulesWithSubjects{{
				Subjects: []flowv1.Subject{{Kind: flowv1.SubjectKindServiceAccount,
					ServiceAccount: &flowv1.ServiceAccountSubject{Namespace: harness.Namespace, Name: sa}}},
				ResourceRules: []flowv1.ResourcePolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"},
					Resources: []string{"*"}, ClusterScope: true, Namespaces: []string{"*"}}},
				NonResourceRules: []flowv1.NonResourcePolicyRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
			}},
		},
	}
	if _, err := cs.FlowcontrolV1().FlowSchemas().Create(ctx, fs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// priorityLevelCounts reads the API server's own counts of requests
// dispatched and rejected in a priority level.
func priorityLevelCounts(t *testing.T, cs kubernetes.Interface, level string) (dispatched, rejected float64) {
	t.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sum := func(metric string) float64 {
		re := regexp.MustCompile(`(?m)^` + metric + `\{[^}]*priority_level="` + regexp.QuoteMeta(level) + `"[^}]*\} (\S+)$`)
		total := 0.0
		for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			total += v
		}
		return total
	}
	return sum("apiserver_flowcontrol_dispatched_requests_total"), sum("apiserver_flowcontrol_rejected_requests_total")
}

// bystander is another client of the API server, in its own flow.
type bystander struct {
	cs kubernetes.Interface
}

func bystanderClient(t *testing.T, kubeconfig string) *bystander {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS = -1
	return &bystander{cs: kubernetes.NewForConfigOrDie(rest.CopyConfig(cfg))}
}

type latencies struct {
	samples  []time.Duration
	count    int
	errors   int
	firstErr string
}

func (l *latencies) median() time.Duration {
	if len(l.samples) == 0 {
		return 0
	}
	s := slices.Clone(l.samples)
	slices.Sort(s)
	return s[len(s)/2]
}

// once writes and reads back one ConfigMap, the kind of request a workload
// makes.
func (b *bystander) once(i int, l *latencies) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("probe-%d-%d", os.Getpid(), i)}}
	_, err := b.cs.CoreV1().ConfigMaps("bystander").Create(ctx, cm, metav1.CreateOptions{})
	if err == nil {
		_, err = b.cs.CoreV1().ConfigMaps("bystander").Get(ctx, cm.Name, metav1.GetOptions{})
	}
	l.count++
	if err != nil {
		l.errors++
		if l.firstErr == "" {
			l.firstErr = err.Error()
		}
		return
	}
	l.samples = append(l.samples, time.Since(start))
}

func (b *bystander) measure(t *testing.T, n int) *latencies {
	t.Helper()
	l := &latencies{}
	for i := range n {
		b.once(-1-i, l)
	}
	if l.errors > 0 {
		t.Fatalf("the other client fails before the restore: %s", l.firstErr)
	}
	return l
}

// runUntilStopped keeps the client busy, a request pair every 50 ms, until
// the returned function is called; it returns what was measured.
func (b *bystander) runUntilStopped(t *testing.T) func() *latencies {
	t.Helper()
	l := &latencies{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			b.once(i, l)
		}
	})
	return func() *latencies {
		close(done)
		wg.Wait()
		return l
	}
}
