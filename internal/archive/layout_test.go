package archive

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func TestItemPath(t *testing.T) {
	cases := []struct {
		item Item
		want string
	}{
		{Item{Resource: "configmaps", Namespace: "ns1", Name: "cm1"}, "resources/configmaps/namespaces/ns1/cm1.json"},
		{Item{Resource: "deployments.apps", Namespace: "ns1", Name: "web"}, "resources/deployments.apps/namespaces/ns1/web.json"},
		{Item{Resource: "persistentvolumes", Name: "pv1"}, "resources/persistentvolumes/cluster/pv1.json"},
		{Item{Resource: "clusterroles.rbac.authorization.k8s.io", Name: "system:basic-user"}, "resources/clusterroles.rbac.authorization.k8s.io/cluster/system:basic-user.json"},
		{Item{Resource: "roles.rbac.authorization.k8s.io", Namespace: "ns1", Name: `a\b`}, "resources/roles.rbac.authorization.k8s.io/namespaces/ns1/a%5Cb.json"},
		{Item{Resource: "deployments.apps", Version: "v1", Preferred: true, Namespace: "ns1", Name: "web"}, "resources/deployments.apps/v1-preferredversion/namespaces/ns1/web.json"},
		{Item{Resource: "horizontalpodautoscalers.autoscaling", Version: "v2beta1", Namespace: "ns1", Name: "web"}, "resources/horizontalpodautoscalers.autoscaling/v2beta1/namespaces/ns1/web.json"},
		{Item{Resource: "persistentvolumes", Version: "v1", Preferred: true, Name: "pv1"}, "resources/persistentvolumes/v1-preferredversion/cluster/pv1.json"},
		{Item{Resource: "widgets.example.com", Version: "v1alpha1", Name: "w"}, "resources/widgets.example.com/v1alpha1/cluster/w.json"},
	}
	for _, c := range cases {
		if got := c.item.Path(); got != c.want {
			t.Errorf("%+v.Path() = %q, want %q", c.item, got, c.want)
		}
		back, err := parseItem(c.want)
		if err != nil {
			t.Errorf("parseItem(%q): %v", c.want, err)
			continue
		}
		if back != c.item {
			t.Errorf("parseItem(%q) = %+v, want %+v", c.want, back, c.item)
		}
	}
}

func TestParsePathRejects(t *testing.T) {
	cases := map[string]string{
		"":                                       "empty name",
		"/resources/configmaps/cluster/a.json":   "absolute path",
		"resources/../configmaps/cluster/a.json": `".." component`,
		"resources/configmaps/namespaces/ns1/../a.json":                            `".." component`,
		"resources/configmaps/cluster/..":                                          `".." component`,
		"resources/configmaps/cluster/./a.json":                                    `"." component`,
		"resources//cluster/a.json":                                                "empty component",
		"resources/configmaps/cluster/a.json/":                                     "empty component",
		`resources\configmaps\cluster\a.json`:                                      "backslash",
		"resources/configmaps/cluster/a\x00.json":                                  "NUL",
		"resources/configmaps/cluster/a\n.json":                                    "control character",
		"resources/configmaps/cluster/\xff.json":                                   "UTF-8",
		"C:/resources/configmaps/cluster/a.json":                                   "is not of the form",
		"resources/configmaps/cluster/a.yaml":                                      "must end in .json",
		"resources/configmaps/cluster/.json":                                       "empty name",
		"resources/configmaps/cluster/...json":                                     "canonical",
		"resources/configmaps/cluster/..json":                                      "canonical",
		"resources/configmaps/cluster/a%5cb.json":                                  "uppercase hex",
		"resources/configmaps/cluster/%61.json":                                    "canonical",
		"resources/configmaps/V1/cluster/a.json":                                   "API version",
		"resources/configmaps/namespaces-preferredversion/cluster/a.json":          "API version",
		"resources/configmaps/v1-preferredversion-preferredversion/cluster/a.json": "API version",
		"resources/configmaps/v1/v2/cluster/a.json":                                "is not of the form",
		"resources/configmaps/v1/namespaces/a.json":                                "is not of the form",
		"resources/configmaps/v1/cluster/ns/a.json":                                "is not of the form",
		"resources/configmaps/namespaces/a.json":                                   "is not of the form",
		"resources/configmaps/namespaces/ns1/sub/a.json":                           "is not of the form",
		"resources/configmaps/cluster/ns/a.json":                                   "is not of the form",
		"stuff/configmaps/cluster/a.json":                                          "is not of the form",
		"resources/ConfigMaps/cluster/a.json":                                      "resource",
		"resources/config_maps/cluster/a.json":                                     "resource",
		"resources/configmaps./cluster/a.json":                                     "resource",
		"resources/configmaps/namespaces/NS1/a.json":                               "namespace",
		"resources/configmaps/namespaces/-ns/a.json":                               "namespace",
		"resources/configmaps/namespaces/" + strings.Repeat("n", 64) + "/a.json":   "namespace",
		"metadata/version":                                                         "is not of the form",
	}
	for p, want := range cases {
		_, err := parseItem(p)
		if err == nil {
			t.Errorf("parseItem(%q) succeeded, want an error mentioning %q", p, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("parseItem(%q) = %v, want it to mention %q", p, err, want)
		}
	}
}

// A name may contain dots and end in .json itself; the path stays reversible.
func TestParsePathNameEdgeCases(t *testing.T) {
	for _, name := range []string{"a.json", "...", "a..b", ".hidden", "x.y.z", "with space", "ümlaut", "a:b", "C:", "system:controller:job-controller", "a<b>&c", strings.Repeat("n", 250)} {
		it := Item{Resource: "configmaps", Namespace: "ns", Name: name}
		back, err := parseItem(it.Path())
		if err != nil {
			t.Errorf("name %q: %v", name, err)
			continue
		}
		if back != it {
			t.Errorf("name %q: round trip gave %+v", name, back)
		}
	}
	// Ark stored names up to 1024 bytes as they are before the long form
	// existed; those paths still read.
	old := strings.Repeat("n", 1024)
	back, err := parseItem("resources/configmaps/namespaces/ns/" + old + ".json")
	if err != nil || back.Name != old {
		t.Errorf("a raw 1024-byte name: %+v, %v", back, err)
	}
}

// The Writer encodes index entries by hand; they must be exactly what
// encoding/json produces, escapes included.
func TestAppendIndexEntryMatchesEncodingJSON(t *testing.T) {
	for _, name := range []string{"plain", `quote"d`, "a<b>&c", "ümlaut", "line\u2028sep", "emoji😀"} {
		it := Item{Resource: "configmaps", Namespace: "ns", Name: name}
		rec := indexRecord{path: it.Path(), size: 12345}
		rec.sum[0], rec.sum[31] = 0xab, 0x01
		got, err := appendIndexEntry(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(indexEntryJSON{Path: rec.path, SHA256: hex.EncodeToString(rec.sum[:]), Size: rec.size})
		if string(got) != string(want) {
			t.Errorf("appendIndexEntry = %s, want %s", got, want)
		}
	}
}
