// Package pluginhost is the server's side of plugins: it finds the plugin
// binaries in the plugin directory, asks each what it serves, and hands
// the server's registries and engines what it found, as providers and item
// actions that start their binary on demand (pkg/plugin.Client: one
// connection per binary, per-call timeouts, restarted after a crash).
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backup"
	objectproviders "github.com/heptio/ark/internal/objectstore/providers"
	"github.com/heptio/ark/internal/restore"
	"github.com/heptio/ark/internal/snapshot"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
	"github.com/heptio/ark/pkg/plugin"
)

// DefaultDir is where the server looks for plugin binaries (the plugins
// volume of examples/common/10-deployment.yaml).
const DefaultDir = "/plugins"

// Options say where plugins are and how they run.
type Options struct {
	Dir string
	// CallTimeout bounds each call to a plugin (plugin.HostOptions).
	CallTimeout time.Duration
	// Env is added to the server's environment for plugin processes.
	Env []string
	Log *slog.Logger
}

// Host holds the plugins the server loaded.
type Host struct {
	dir     string
	log     *slog.Logger
	clients []*plugin.Client
	loaded  []loaded
	errs    []string
}

type loaded struct {
	desc    plugin.Descriptor
	version string
	client  *plugin.Client
}

// Discover loads the plugin directory: every executable file in it is
// started, asked what it serves, and stopped; it starts again at its first
// use. A binary that cannot be loaded (or serves a name another one took)
// is logged and listed in Errors; the server runs without it. A missing
// directory means no plugins.
func Discover(ctx context.Context, opts Options) (*Host, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Host{dir: opts.Dir, log: log}
	entries, err := os.ReadDir(opts.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("no plugin directory: running without plugins", "pluginDir", opts.Dir)
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the plugin directory %s: %w (fix its permissions, or point --plugin-dir elsewhere)", opts.Dir, err)
	}
	taken := map[plugin.Descriptor]string{}
	for _, e := range entries { // sorted by name: of two binaries serving one name, the first wins
		path := filepath.Join(opts.Dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue // a directory, or a file that is not a program (a README)
		}
		hostOpts := plugin.HostOptions{CallTimeout: opts.CallTimeout, Env: opts.Env, Log: log}
		probe := plugin.NewClient(path, hostOpts)
		version, plugins, err := probe.Provides(ctx)
		probe.Close()
		if err != nil {
			h.fail(fmt.Sprintf("%s: not loaded: %v", path, err))
			continue
		}
		client := plugin.NewClient(path, hostOpts)
		h.clients = append(h.clients, client)
		for _, d := range plugins {
			if other, ok := taken[d]; ok {
				h.fail(fmt.Sprintf("%s: %s not loaded: %s serves it already (remove one of the two binaries)", path, d, other))
				continue
			}
			taken[d] = path
			h.loaded = append(h.loaded, loaded{desc: d, version: version, client: client})
			log.Info("plugin loaded", "kind", d.Kind, "name", d.Name, "binary", path, "version", version)
		}
	}
	sort.SliceStable(h.loaded, func(i, j int) bool { return h.loaded[i].desc.String() < h.loaded[j].desc.String() })
	return h, nil
}

func (h *Host) fail(msg string) {
	h.errs = append(h.errs, msg)
	h.log.Error("plugin binary " + msg)
}

// Dir is the plugin directory.
func (h *Host) Dir() string { return h.dir }

// Plugins lists what the server loaded, for ServerStatusRequests.
func (h *Host) Plugins() []arkv1.PluginInfo {
	out := make([]arkv1.PluginInfo, len(h.loaded))
	for i, l := range h.loaded {
		out[i] = arkv1.PluginInfo{Kind: string(l.desc.Kind), Name: l.desc.Name, Binary: l.client.Path(), Version: l.version}
	}
	return out
}

// Errors lists the binaries (or names) that were not loaded, with why.
func (h *Host) Errors() []string { return h.errs }

func (h *Host) of(kind plugin.Kind) []loaded {
	var out []loaded
	for _, l := range h.loaded {
		if l.desc.Kind == kind {
			out = append(out, l)
		}
	}
	return out
}

// ObjectStoreProviders are the plugins' object stores, as providers of the
// registry a Config's backupStorageProvider.name is looked up in. Their
// config keys are the plugin's to check.
func (h *Host) ObjectStoreProviders() []objectproviders.Provider {
	var out []objectproviders.Provider
	for _, l := range h.of(plugin.KindObjectStore) {
		out = append(out, objectproviders.Provider{Name: l.desc.Name,
			New: func(config map[string]string) (plugin.ObjectStore, error) {
				return l.client.ObjectStore(context.Background(), l.desc.Name, config)
			}})
	}
	return out
}

// BlockStoreProviders are the plugins' block stores, for
// persistentVolumeProvider.name.
func (h *Host) BlockStoreProviders() []snapshotproviders.Provider {
	var out []snapshotproviders.Provider
	for _, l := range h.of(plugin.KindBlockStore) {
		out = append(out, snapshotproviders.Provider{Name: l.desc.Name,
			New: func(config map[string]string, _ snapshotproviders.Deps) (snapshot.BlockStore, error) {
				return l.client.BlockStore(context.Background(), l.desc.Name, config)
			}})
	}
	return out
}

// BackupItemActions are the plugins' backup item actions, by name.
func (h *Host) BackupItemActions() []backup.ItemAction {
	var out []backup.ItemAction
	for _, l := range h.of(plugin.KindBackupItemAction) {
		out = append(out, backup.ItemAction{Name: l.desc.Name, Action: l.client.BackupItemAction(l.desc.Name)})
	}
	return out
}

// RestoreItemActions are the plugins' restore item actions, by name.
func (h *Host) RestoreItemActions() []restore.ItemAction {
	var out []restore.ItemAction
	for _, l := range h.of(plugin.KindRestoreItemAction) {
		out = append(out, restore.ItemAction{Name: l.desc.Name, Action: l.client.RestoreItemAction(l.desc.Name)})
	}
	return out
}

// Close stops every plugin process.
func (h *Host) Close() {
	for _, c := range h.clients {
		c.Close()
	}
}
