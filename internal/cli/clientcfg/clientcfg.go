// Package clientcfg is how every CLI command reaches the cluster: the
// --kubeconfig/--kubecontext/-n flags, the persisted client config
// (~/.config/ark/config.json), and `ark client config get|set`.
package clientcfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/kube"
)

// Factory carries the global flags and makes clients from them.
type Factory struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// BindFlags adds the global flags to the root command.
func (f *Factory) BindFlags(flags *pflag.FlagSet) {
	flags.StringVar(&f.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	flags.StringVar(&f.Context, "kubecontext", "", "the kubeconfig context to use (default: its current context)")
	flags.StringVarP(&f.Namespace, "namespace", "n", "", "the namespace of Ark's resources (default: 'ark client config get namespace', else heptio-ark)")
}

// ResolvedNamespace is the -n flag, else the persisted one, else heptio-ark.
func (f *Factory) ResolvedNamespace() string {
	if f.Namespace != "" {
		return f.Namespace
	}
	if cfg, err := Load(); err == nil && cfg["namespace"] != "" {
		return cfg["namespace"]
	}
	return arkv1.DefaultNamespace
}

// RESTConfig resolves the cluster as the docs say.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	return kube.RESTConfig(kube.ClientOptions{Kubeconfig: f.Kubeconfig, Context: f.Context})
}

// Client returns a client that knows Ark's types.
func (f *Factory) Client() (client.Client, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: arkv1.NewScheme()})
}

// keys are the settings `ark client config set` accepts.
var keys = map[string]string{"namespace": "the default namespace of Ark's resources"}

// Path is where the client config is kept: $ARK_CONFIG, else
// ~/.config/ark/config.json.
func Path() (string, error) {
	if p := os.Getenv("ARK_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ark", "config.json"), nil
}

// Load reads the client config; a missing file is an empty config.
func Load() (map[string]string, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	cfg := map[string]string{}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (%v): fix or delete it", p, err)
	}
	return cfg, nil
}

func save(cfg map[string]string) error {
	p, err := Path()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	return os.WriteFile(p, append(data, '\n'), 0o644)
}

// NewCommand is `ark client`.
func NewCommand() *cobra.Command {
	c := &cobra.Command{Use: "client", Short: "Configure the ark client"}
	cfg := &cobra.Command{Use: "config", Short: "Get and set the client's settings (~/.config/ark/config.json)"}
	cfg.AddCommand(&cobra.Command{
		Use:     "get [KEY...]",
		Short:   "Print client settings",
		Example: "  ark client config get\n  ark client config get namespace",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := Load()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				for k := range cfg {
					args = append(args, k)
				}
				sort.Strings(args)
			}
			for _, k := range args {
				v, ok := cfg[k]
				if !ok {
					v = "<not set>"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", k, v)
			}
			return nil
		},
	})
	cfg.AddCommand(&cobra.Command{
		Use:     "set KEY=VALUE [KEY=VALUE...]",
		Short:   "Persist client settings",
		Example: "  ark client config set namespace=backup-system\n  ark client config set namespace=   # unset",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := Load()
			if err != nil {
				return err
			}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("%q is not KEY=VALUE: write e.g. namespace=heptio-ark", a)
				}
				if _, known := keys[k]; !known {
					return fmt.Errorf("unknown setting %q: the settings are: namespace", k)
				}
				if v == "" {
					delete(cfg, k)
				} else {
					cfg[k] = v
				}
			}
			return save(cfg)
		},
	})
	c.AddCommand(cfg)
	return c
}
