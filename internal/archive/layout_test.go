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
	}
	for _, c := range cases {
		if got := c.item.Path(); got != c.want {
			t.Errorf("%+v.Path() = %q, want %q", c.item, got, c.want)
		}
		back, err := ParsePath(c.want)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", c.want, err)
			continue
		}
		if back != c.item {
			t.Errorf("ParsePath(%q) = %+v, want %+v", c.want, back, c.item)
		}
	}
}

func TestParsePathRejects(t *testing.T) {
	cases := map[string]string{
		"":                                       "empty name",
		"/resources/configmaps/cluster/a.json":   "absolute path",
		"resources/../configmaps/cluster/a.json": `".." component`,
		"resources/configmaps/namespaces/ns1/../a.json":                               `".." component`,
		"resources/configmaps/cluster/..":                                             `".." component`,
		"resources/configmaps/cluster/./a.json":                                       `"." component`,
		"resources//cluster/a.json":                                                   "empty component",
		"resources/configmaps/cluster/a.json/":                                        "empty component",
		`resources\configmaps\cluster\a.json`:                                         "backslash",
		"resources/configmaps/cluster/a\x00.json":                                     "NUL",
		"resources/configmaps/cluster/a\n.json":                                       "control character",
		"resources/configmaps/cluster/\xff.json":                                      "UTF-8",
		"C:/resources/configmaps/cluster/a.json":                                      "is not of the form",
		"resources/configmaps/cluster/a.yaml":                                         "must end in .json",
		"resources/configmaps/cluster/.json":                                          "empty name",
		"resources/configmaps/cluster/...json":                                        "relative directory",
		"resources/configmaps/namespaces/a.json":                                      "is not of the form",
		"resources/configmaps/namespaces/ns1/sub/a.json":                              "is not of the form",
		"resources/configmaps/cluster/ns/a.json":                                      "is not of the form",
		"stuff/configmaps/cluster/a.json":                                             "is not of the form",
		"resources/ConfigMaps/cluster/a.json":                                         "resource",
		"resources/config_maps/cluster/a.json":                                        "resource",
		"resources/configmaps./cluster/a.json":                                        "resource",
		"resources/configmaps/namespaces/NS1/a.json":                                  "namespace",
		"resources/configmaps/namespaces/-ns/a.json":                                  "namespace",
		"resources/configmaps/namespaces/" + strings.Repeat("n", 64) + "/a.json":      "namespace",
		"resources/configmaps/cluster/" + strings.Repeat("n", maxNameLen+1) + ".json": "longer than",
		"metadata/version":                                                            "is not of the form",
	}
	for p, want := range cases {
		_, err := ParsePath(p)
		if err == nil {
			t.Errorf("ParsePath(%q) succeeded, want an error mentioning %q", p, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePath(%q) = %v, want it to mention %q", p, err, want)
		}
	}
}

// A name may contain dots and end in .json itself; the path stays reversible.
func TestParsePathNameEdgeCases(t *testing.T) {
	for _, name := range []string{"a.json", "...", "a..b", ".hidden", "x.y.z", "with space", "ümlaut", "a:b", "C:", "system:controller:job-controller", "a<b>&c", strings.Repeat("n", maxNameLen)} {
		it := Item{Resource: "configmaps", Namespace: "ns", Name: name}
		back, err := ParsePath(it.Path())
		if err != nil {
			t.Errorf("name %q: %v", name, err)
			continue
		}
		if back != it {
			t.Errorf("name %q: round trip gave %+v", name, back)
		}
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
		want, _ := json.Marshal(IndexEntry{Path: rec.path, SHA256: hex.EncodeToString(rec.sum[:]), Size: rec.size})
		if string(got) != string(want) {
			t.Errorf("appendIndexEntry = %s, want %s", got, want)
		}
	}
}
