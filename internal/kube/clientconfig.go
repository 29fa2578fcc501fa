// Package kube holds what every part of Ark needs to talk to a cluster: how
// the client finds its configuration, and which resources the cluster serves.
package kube

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientOptions are the CLI flags that choose a cluster.
type ClientOptions struct {
	// Kubeconfig is the --kubeconfig flag; it wins over $KUBECONFIG.
	Kubeconfig string
	// Context is the --kubecontext flag.
	Context string
	// QPS and Burst bound the client's request rate (0: client-go defaults).
	QPS   float32
	Burst int
}

// noConfigHelp follows client-go's own "no configuration" error, so the user
// learns where Ark looked and what to do, as the troubleshooting guide says.
const noConfigHelp = `This typically means that no kubeconfig file can be found for the Ark client to use. Ark looks for a kubeconfig in the following locations:
  --kubeconfig flag, if any
  $KUBECONFIG environment variable, if any
  ~/.kube/config
Fix: pass --kubeconfig PATH, set KUBECONFIG=PATH, or create ~/.kube/config (for the local cluster of 'make quickstart': source its env.sh).`

// RESTConfig resolves the client configuration in the order the docs give:
// the --kubeconfig flag, then $KUBECONFIG, then ~/.kube/config. Without any
// of them it tries the in-cluster configuration (the server's case).
func RESTConfig(opts ClientOptions) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			if inCluster, icErr := rest.InClusterConfig(); icErr == nil {
				cfg, err = inCluster, nil
			} else {
				return nil, fmt.Errorf("%w\n%s", errNoConfig, noConfigHelp)
			}
		} else {
			return nil, fmt.Errorf("reading kubeconfig: %w", err)
		}
	}
	if opts.QPS > 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	cfg.UserAgent = "ark"
	return cfg, nil
}

// errNoConfig keeps client-go's exact wording, which the docs quote.
var errNoConfig = errors.New("invalid configuration: no configuration has been provided")
