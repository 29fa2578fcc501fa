package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
)

// ConfigMapName is the ConfigMap of prefixes, in the server's namespace.
const ConfigMapName = "registry-rewrite"

// parseRules reads the ConfigMap's data: each value is an old prefix and a
// new one, separated by spaces (ConfigMap keys cannot hold the slashes of
// a prefix, so the key only names the rule).
func parseRules(data map[string]string) (rules, error) {
	r := rules{}
	for key, value := range data {
		f := strings.Fields(value)
		if len(f) != 2 {
			return nil, fmt.Errorf("rule %q is %q: write the old image prefix and the new one, separated by a space (docker.io/library/ registry.example.com/mirror/)", key, value)
		}
		r[f[0]] = f[1]
	}
	return r, nil
}

// action rewrites container images on restore by the prefixes of the
// ConfigMap registry-rewrite in the Ark server's namespace, read once per
// restore.
type action struct {
	mu     sync.Mutex
	client kubernetes.Interface
	cached map[types.UID]rules
}

func (a *action) AppliesTo() (plugin.ResourceSelector, error) {
	return plugin.ResourceSelector{IncludedResources: []string{
		"pods", "deployments.apps", "statefulsets.apps", "daemonsets.apps", "replicasets.apps",
		"replicationcontrollers", "jobs.batch", "cronjobs.batch",
	}}, nil
}

func (a *action) Execute(ctx context.Context, item *unstructured.Unstructured, restore *arkv1.Restore) (*unstructured.Unstructured, string, error) {
	r, err := a.rules(ctx, restore)
	if err != nil {
		return nil, "", err
	}
	out := item.DeepCopy()
	changes := r.rewrite(out)
	if len(changes) == 0 {
		return item, "", nil
	}
	return out, "image rewritten: " + strings.Join(changes, ", "), nil
}

// rules reads the ConfigMap the first time a restore asks; a missing one
// means no rewrites.
func (a *action) rules(ctx context.Context, restore *arkv1.Restore) (rules, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.cached[restore.UID]; ok {
		return r, nil
	}
	if a.client == nil {
		// The server passes its kubeconfig (KUBECONFIG) when it has one;
		// in a pod, the service account's in-cluster config is used.
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("no cluster configuration to read ConfigMap %s: %w", ConfigMapName, err)
		}
		if a.client, err = kubernetes.NewForConfig(cfg); err != nil {
			return nil, err
		}
	}
	ns := os.Getenv("ARK_NAMESPACE")
	if ns == "" {
		ns = restore.Namespace
	}
	cm, err := a.client.CoreV1().ConfigMaps(ns).Get(ctx, ConfigMapName, metav1.GetOptions{})
	r := rules{}
	switch {
	case apierrors.IsNotFound(err):
		plugin.Log.Info("no ConfigMap of registry prefixes: images are restored as they were", "namespace", ns, "name", ConfigMapName)
	case err != nil:
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, ConfigMapName, err)
	default:
		if r, err = parseRules(cm.Data); err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s: %w", ns, ConfigMapName, err)
		}
	}
	if a.cached == nil {
		a.cached = map[types.UID]rules{}
	}
	a.cached[restore.UID] = r
	return r, nil
}
