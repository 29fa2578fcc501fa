package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Archives of Ark's lineage, built entry by entry as those tools wrote them
// (Heptio Ark's and Velero's output-file-format documents and their tar
// writers): regular files with mode 0755, compact JSON without a trailing
// newline, entries in the order the items were backed up (grouped by
// resource, not sorted), no index.

// toolFile is a regular file as Heptio Ark and Velero wrote them.
func toolFile(name string, data []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(1546300800, 0)}, data: data}
}

// dirEntry is a directory entry as tar(1) writes them when repacking.
func dirEntry(name string) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: time.Unix(1546300800, 0)}}
}

// object is an object's compact JSON, as json.Marshal of the unstructured
// content gives it: no indentation, no trailing newline.
func object(apiVersion, kind, namespace, name string) []byte {
	md := map[string]any{"name": name, "uid": "uid-" + name, "resourceVersion": "42"}
	if namespace != "" {
		md["namespace"] = namespace
	}
	b, err := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md, "spec": map[string]any{"note": "as backed up"}})
	if err != nil {
		panic(err)
	}
	return b
}

// lineageObject is one object of a lineage archive, where each tool put it.
type lineageObject struct {
	resource, apiVersion, kind, namespace, name string
}

// the objects of every lineage archive, in backup order: grouped by resource,
// not sorted (pods before configmaps, a cluster-scoped resource in between).
var lineageObjects = []lineageObject{
	{"pods", "v1", "Pod", "ns1", "web-0"},
	{"persistentvolumes", "v1", "PersistentVolume", "", "pv-b"},
	{"persistentvolumes", "v1", "PersistentVolume", "", "pv-a"},
	{"configmaps", "v1", "ConfigMap", "ns2", "settings"},
	{"configmaps", "v1", "ConfigMap", "ns1", "settings"},
	{"deployments.apps", "apps/v1", "Deployment", "ns1", "web"},
	{"clusterroles.rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:controller:web"},
	{"namespaces", "v1", "Namespace", "", "ns2"},
	{"namespaces", "v1", "Namespace", "", "ns1"},
}

func (o lineageObject) item() Item {
	return Item{Resource: o.resource, Namespace: o.namespace, Name: o.name}
}

func (o lineageObject) data() []byte { return object(o.apiVersion, o.kind, o.namespace, o.name) }

// versionedObjects are the extra copies Velero writes with API group
// versions enabled: other served versions of two groups.
var versionedObjects = []struct {
	lineageObject
	version string
}{
	{lineageObject{"horizontalpodautoscalers.autoscaling", "autoscaling/v1", "HorizontalPodAutoscaler", "ns1", "web"}, "v1"},
	{lineageObject{"widgets.example.com", "example.com/v1alpha1", "Widget", "ns1", "w1"}, "v1alpha1"},
	{lineageObject{"widgets.example.com", "example.com/v1alpha1", "Widget", "", "cw"}, "v1alpha1"},
}

// lineageArchive is an archive of one tool, and what reading it must give.
type lineageArchive struct {
	name    string
	archive []byte
	origin  string
	version string
	// items are every item the archive holds, in archive order.
	items []testItem
	// preferred maps a resource to the preferred version the archive
	// records.
	preferred map[string]string
}

func lineageArchives(t testing.TB) []lineageArchive {
	var out []lineageArchive

	// Heptio Ark v0.7–v0.9: items only.
	{
		var entries []rawEntry
		var items []testItem
		for _, o := range lineageObjects {
			entries = append(entries, toolFile(o.item().Path(), o.data()))
			items = append(items, testItem{o.item(), o.data()})
		}
		out = append(out, lineageArchive{name: "heptio-ark-v0.7", archive: rawArchive(t, entries...), origin: OriginHeptioArk7, items: items})
	}
	// Heptio Ark v0.10–v0.11 (and Velero 1.0–1.3): metadata/version "1".
	{
		entries := []rawEntry{toolFile(versionEntry, []byte("1\n"))}
		var items []testItem
		for _, o := range lineageObjects {
			entries = append(entries, toolFile(o.item().Path(), o.data()))
			items = append(items, testItem{o.item(), o.data()})
		}
		out = append(out, lineageArchive{name: "heptio-ark-v0.10", archive: rawArchive(t, entries...), origin: OriginArkOrOlder, version: "1", items: items})
	}
	// Velero >= 1.4: every item twice, its preferred-version copy right
	// after the unversioned one.
	{
		entries := []rawEntry{toolFile(versionEntry, []byte("1.1.0\n"))}
		var items []testItem
		preferred := map[string]string{}
		for _, o := range lineageObjects {
			it := o.item()
			pv := it
			pv.Version, pv.Preferred = versionOf(o.apiVersion), true
			preferred[o.resource] = pv.Version
			entries = append(entries, toolFile(it.Path(), o.data()), toolFile(pv.Path(), o.data()))
			items = append(items, testItem{it, o.data()}, testItem{pv, o.data()})
		}
		out = append(out, lineageArchive{name: "velero-1.4", archive: rawArchive(t, entries...), origin: OriginVelero, version: "1.1.0", items: items, preferred: preferred})
	}
	// Velero with API group versions enabled: unversioned copies first, then
	// the preferred-version directories, then the other versions; plus
	// resources of two more groups.
	{
		entries := []rawEntry{toolFile(versionEntry, []byte("1.1.0\n"))}
		var items, preferredCopies, others []testItem
		preferred := map[string]string{}
		add := func(it Item, data []byte) {
			entries = append(entries, toolFile(it.Path(), data))
			items = append(items, testItem{it, data})
		}
		all := append([]lineageObject{}, lineageObjects...)
		all = append(all,
			lineageObject{"horizontalpodautoscalers.autoscaling", "autoscaling/v2", "HorizontalPodAutoscaler", "ns1", "web"},
			lineageObject{"widgets.example.com", "example.com/v1beta1", "Widget", "ns1", "w1"},
			lineageObject{"widgets.example.com", "example.com/v1beta1", "Widget", "", "cw"})
		for _, o := range all {
			add(o.item(), o.data())
			pv := o.item()
			pv.Version, pv.Preferred = versionOf(o.apiVersion), true
			preferred[o.resource] = pv.Version
			preferredCopies = append(preferredCopies, testItem{pv, o.data()})
		}
		for _, v := range versionedObjects {
			it := v.item()
			it.Version = v.version
			others = append(others, testItem{it, v.data()})
		}
		for _, it := range append(preferredCopies, others...) {
			add(it.item, it.data)
		}
		out = append(out, lineageArchive{name: "velero-api-group-versions", archive: rawArchive(t, entries...), origin: OriginVelero, version: "1.1.0", items: items, preferred: preferred})
	}
	// The Velero archive repacked with tar(1): a directory entry before the
	// entries of each directory, in tar's depth-first order.
	{
		velero := out[2]
		var paths []string
		byPath := map[string]testItem{}
		for _, it := range velero.items {
			paths = append(paths, it.item.Path())
			byPath[it.item.Path()] = it
		}
		paths = append(paths, versionEntry)
		sort.Strings(paths)
		var entries []rawEntry
		var items []testItem
		dirs := map[string]bool{}
		for _, p := range paths {
			parts := strings.Split(p, "/")
			for i := 1; i < len(parts); i++ {
				d := strings.Join(parts[:i], "/")
				if !dirs[d] {
					dirs[d] = true
					entries = append(entries, dirEntry(d))
				}
			}
			if p == versionEntry {
				entries = append(entries, toolFile(p, []byte("1.1.0\n")))
				continue
			}
			entries = append(entries, toolFile(p, byPath[p].data))
			items = append(items, byPath[p])
		}
		out = append(out, lineageArchive{name: "velero-repacked-with-directories", archive: rawArchive(t, entries...), origin: OriginVelero, version: "1.1.0", items: items, preferred: velero.preferred})
	}
	return out
}

func versionOf(apiVersion string) string {
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		return apiVersion[i+1:]
	}
	return apiVersion
}

func TestReadsEveryFormatOfTheLineage(t *testing.T) {
	for _, c := range lineageArchives(t) {
		t.Run(c.name, func(t *testing.T) {
			got, format, err := readWithFormat(c.archive, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := Format{Origin: c.origin, Version: c.version}
			if format != want {
				t.Fatalf("format %+v, want %+v", format, want)
			}
			if !strings.Contains(format.Unverified(), "written by "+c.origin+" without an index") {
				t.Fatalf("Unverified() = %q", format.Unverified())
			}
			if len(got) != len(c.items) {
				t.Fatalf("read %d items (%s), want %d", len(got), describe(got), len(c.items))
			}
			for i := range got {
				if got[i].item != c.items[i].item || !bytes.Equal(got[i].data, c.items[i].data) {
					t.Fatalf("item %d = %+v, want %+v", i, got[i].item, c.items[i].item)
				}
			}

			contents, err := Extract(bytes.NewReader(c.archive), filepath.Join(t.TempDir(), "x"), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if contents.Format != want || contents.Items != len(c.items) {
				t.Fatalf("contents: %+v, %d items", contents.Format, contents.Items)
			}
			checkListing(t, contents, c.items, c.preferred)

			// This Ark's own backups must have their index.
			if _, err := readAll(c.archive, Limits{RequireIndex: true}); err == nil {
				t.Fatal("RequireIndex accepted an archive without an index")
			}
		})
	}
}

// checkListing compares Contents with the items the archive holds, and
// reads each one back.
func checkListing(t *testing.T, c *Contents, items []testItem, preferred map[string]string) {
	t.Helper()
	type key struct{ resource, version, namespace string }
	want := map[key][]string{}
	for _, it := range items {
		k := key{it.item.Resource, it.item.Version, it.item.Namespace}
		want[k] = append(want[k], it.item.Name)
		b, err := c.Open(it.item)
		if err != nil || !bytes.Equal(b, it.data) {
			t.Fatalf("Open(%s) = %s, %v", it.item, b, err)
		}
	}
	got := map[key][]string{}
	for res, ri := range c.Resources {
		if ri.PreferredVersion != preferred[res] {
			t.Errorf("%s: preferred version %q, want %q", res, ri.PreferredVersion, preferred[res])
		}
		collect := func(l *Listing, version string) {
			if n := l.Cluster.Len(); n > 0 {
				got[key{res, version, ""}] = slices.Collect(l.Cluster.All())
			}
			for ns, names := range l.Namespaces {
				got[key{res, version, ns}] = slices.Collect(names.All())
			}
		}
		collect(&ri.Listing, "")
		for v, l := range ri.Versions {
			collect(l, v)
		}
	}
	for k, names := range want {
		slices.Sort(names)
		if !slices.Equal(got[k], names) {
			t.Errorf("%+v: listing %q, want %q", k, got[k], names)
		}
	}
	if len(got) != len(want) {
		t.Errorf("listing has %d directories, want %d: %v", len(got), len(want), got)
	}
}

// A Velero backup extracted and packed again with tar(1) has real directory
// entries, in tar's order.
func TestReadsArchiveRepackedWithSystemTar(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar binary on PATH")
	}
	velero := lineageArchives(t)[3]
	tree := t.TempDir()
	for _, it := range velero.items {
		p := filepath.Join(tree, filepath.FromSlash(it.item.Path()))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, it.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(tree, "metadata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "metadata", "version"), []byte("1.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "repacked.tar.gz")
	if b, err := exec.Command(tarBin, "-czf", out, "-C", tree, "metadata", "resources").CombinedOutput(); err != nil {
		t.Fatalf("tar -czf: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	contents, err := Extract(bytes.NewReader(data), filepath.Join(t.TempDir(), "x"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if contents.Format.Origin != OriginVelero || contents.Items != len(velero.items) {
		t.Fatalf("%+v with %d items, want %d", contents.Format, contents.Items, len(velero.items))
	}
	checkListing(t, contents, velero.items, velero.preferred)
}

// The protections against hostile archives hold for every format.
func TestHostileArchivesOfEveryFormat(t *testing.T) {
	good := toolFile("resources/configmaps/namespaces/ns1/cm1.json", object("v1", "ConfigMap", "ns1", "cm1"))
	prefixes := map[string][]rawEntry{
		"heptio-ark-v0.7":  nil,
		"heptio-ark-v0.10": {toolFile(versionEntry, []byte("1\n"))},
		"velero":           {toolFile(versionEntry, []byte("1.1.0\n"))},
		"with-directories": {dirEntry("metadata"), toolFile(versionEntry, []byte("1.1.0\n")), dirEntry("resources")},
	}
	link := func(typ byte, name, target string) rawEntry {
		return rawEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}}
	}
	big := toolFile("resources/configmaps/cluster/big.json", []byte(`{"a":"`+strings.Repeat("x", 2000)+`"}`))
	cases := []struct {
		name    string
		entries []rawEntry
		lim     Limits
		want    []string
	}{
		{"dotdot", []rawEntry{toolFile("resources/configmaps/namespaces/ns1/../../../../etc/cron.d/x.json", []byte("{}"))}, Limits{}, []string{`".." component`}},
		{"absolute", []rawEntry{toolFile("/etc/cron.d/x.json", []byte("{}"))}, Limits{}, []string{"absolute path"}},
		{"backslash", []rawEntry{toolFile(`resources\configmaps\cluster\x.json`, []byte("{}"))}, Limits{}, []string{"backslash"}},
		{"symlink", []rawEntry{link(tar.TypeSymlink, "resources/configmaps/cluster/x.json", "/etc/passwd")}, Limits{}, []string{"symbolic link"}},
		{"hardlink", []rawEntry{link(tar.TypeLink, "resources/configmaps/cluster/x.json", "/etc/shadow")}, Limits{}, []string{"hard link"}},
		{"symlinked-directory", []rawEntry{link(tar.TypeSymlink, "resources/configmaps", "/etc")}, Limits{}, []string{"symbolic link"}},
		{"directory-outside-layout", []rawEntry{dirEntry("etc")}, Limits{}, []string{`"etc/"`, "not part of the backup layout"}},
		{"directory-dotdot", []rawEntry{dirEntry("resources/..")}, Limits{}, []string{`".." component`}},
		{"directory-absolute", []rawEntry{dirEntry("/resources")}, Limits{}, []string{"absolute path"}},
		{"outside-resources", []rawEntry{toolFile("etc/passwd", []byte("{}"))}, Limits{}, []string{"not part of the backup layout"}},
		{"not-json", []rawEntry{toolFile("resources/configmaps/cluster/x.json", []byte("#!/bin/sh"))}, Limits{}, []string{"not a JSON object"}},
		{"huge-entry", []rawEntry{big}, Limits{MaxEntrySize: 1000}, []string{"Limits.MaxEntrySize"}},
		{"too-many-entries", []rawEntry{toolFile("resources/configmaps/cluster/a.json", []byte("{}")), toolFile("resources/configmaps/cluster/b.json", []byte("{}"))}, Limits{MaxEntries: 2}, []string{"more than 2 items"}},
		{"too-many-bytes", []rawEntry{big}, Limits{MaxTotalSize: 4000}, []string{"Limits.MaxTotalSize"}},
		{"duplicate", []rawEntry{toolFile("resources/configmaps/cluster/a.json", []byte("{}")), toolFile("resources/configmaps/cluster/a.json", []byte("{}"))}, Limits{}, []string{"resources/configmaps/cluster/a.json", "appears twice"}},
		{"duplicate-by-encoding", []rawEntry{
			toolFile("resources/roles.rbac.authorization.k8s.io/cluster/"+strings.Repeat("r", 300)+".json", object("v1", "Role", "", strings.Repeat("r", 300))),
			toolFile("resources/roles.rbac.authorization.k8s.io/cluster/"+fileName(strings.Repeat("r", 300)), object("v1", "Role", "", strings.Repeat("r", 300))),
		}, Limits{}, []string{"appears twice"}},
		{"non-canonical-escape", []rawEntry{toolFile("resources/configmaps/cluster/%61.json", []byte("{}"))}, Limits{}, []string{"canonical"}},
		{"version-dir-both-forms", []rawEntry{toolFile("resources/configmaps/v1/cluster/a.json", []byte("{}")), toolFile("resources/configmaps/v1-preferredversion/cluster/b.json", []byte("{}"))}, Limits{}, []string{"both in v1/ and in v1-preferredversion/"}},
		{"two-preferred-versions", []rawEntry{toolFile("resources/configmaps/v1-preferredversion/cluster/a.json", []byte("{}")), toolFile("resources/configmaps/v2-preferredversion/cluster/a.json", []byte("{}"))}, Limits{}, []string{"two preferred versions"}},
		{"bad-version-dir", []rawEntry{toolFile("resources/configmaps/V1/cluster/a.json", []byte("{}"))}, Limits{}, []string{`API version "V1"`}},
		{"index-in-a-format-without", []rawEntry{indexFor(good)}, Limits{}, []string{indexEntry}},
		{"unknown-metadata", []rawEntry{toolFile("metadata/extra", []byte("{}"))}, Limits{}, []string{"unknown metadata entry"}},
	}
	for prefixName, prefix := range prefixes {
		for _, c := range cases {
			if c.name == "index-in-a-format-without" && prefixName == "heptio-ark-v0.10" {
				continue // version 1 with an index is this Ark's own format
			}
			t.Run(prefixName+"/"+c.name, func(t *testing.T) {
				entries := append(append(append([]rawEntry{}, prefix...), good), c.entries...)
				data := rawArchive(t, entries...)
				_, err := readAll(data, c.lim)
				checkHostileError(t, "Reader", err, c.want)
				parent := t.TempDir()
				dir := filepath.Join(parent, "restore")
				contents, err := Extract(bytes.NewReader(data), dir, c.lim)
				if contents != nil {
					t.Error("Extract returned contents")
				}
				checkHostileError(t, "Extract", err, c.want)
				if _, statErr := os.Lstat(dir); !os.IsNotExist(statErr) {
					t.Errorf("Extract left %s behind", dir)
				}
				assertOnlyUnder(t, parent, dir)
			})
		}
	}
}

// Heptio Ark v0.10 and Velero end metadata/version with a newline; an
// archive repacked by hand may not. Both read the same.
func TestVersionEntryWithOrWithoutNewline(t *testing.T) {
	item := toolFile("resources/configmaps/namespaces/ns1/settings.json", object("v1", "ConfigMap", "ns1", "settings"))
	for _, c := range []struct{ content, origin, version string }{
		{"1\n", OriginArkOrOlder, "1"},
		{"1", OriginArkOrOlder, "1"},
		{"1.1.0\n", OriginVelero, "1.1.0"},
		{"1.1.0", OriginVelero, "1.1.0"},
		{"1.12.3\r\n", OriginVelero, "1.12.3"},
	} {
		_, format, err := readWithFormat(rawArchive(t, toolFile(versionEntry, []byte(c.content)), item), Limits{})
		if err != nil || format != (Format{Origin: c.origin, Version: c.version}) {
			t.Errorf("version %q: %+v, %v", c.content, format, err)
		}
	}
}
