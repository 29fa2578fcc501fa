package archive

import (
	"bytes"
	"path/filepath"
	"testing"
)

// A backup of every served version writes each object unversioned (the
// preferred version, what every reader restores), in its preferred version's
// directory, and in the directory of each other version; the archive keeps
// its index, and the listing is the one Velero's archives give.
func TestVersionDirectoriesRoundTrip(t *testing.T) {
	obj := func(apiVersion, ns, name string) []byte {
		return object(apiVersion, "HorizontalPodAutoscaler", ns, name)
	}
	var items []testItem
	preferred := map[string]string{"horizontalpodautoscalers.autoscaling": "v2", "widgets.example.com": "v1"}
	for _, name := range []string{"web", "api"} {
		base := Item{Resource: "horizontalpodautoscalers.autoscaling", Namespace: "ns1", Name: name}
		v2 := base
		v2.Version, v2.Preferred = "v2", true
		v1 := base
		v1.Version = "v1"
		items = append(items,
			testItem{base, obj("autoscaling/v2", "ns1", name)},
			testItem{v2, obj("autoscaling/v2", "ns1", name)},
			testItem{v1, obj("autoscaling/v1", "ns1", name)})
	}
	cw := Item{Resource: "widgets.example.com", Name: `cluster\wide`}
	cwPref := cw
	cwPref.Version, cwPref.Preferred = "v1", true
	cwOld := cw
	cwOld.Version = "v1alpha1"
	items = append(items, testItem{cw, obj("example.com/v1", "", cw.Name)}, testItem{cwPref, obj("example.com/v1", "", cw.Name)}, testItem{cwOld, obj("example.com/v1alpha1", "", cw.Name)})

	data, _ := writeArchive(t, items)
	got, err := readAll(data, Limits{RequireIndex: true})
	if err != nil || len(got) != len(items) {
		t.Fatalf("read %d of %d items: %v", len(got), len(items), err)
	}
	for i := range items {
		if got[i].item != items[i].item || !bytes.Equal(got[i].data, items[i].data) {
			t.Fatalf("item %d: %+v, want %+v", i, got[i].item, items[i].item)
		}
	}
	c, err := Extract(bytes.NewReader(data), filepath.Join(t.TempDir(), "x"), Limits{RequireIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Format.Indexed || c.Items != len(items) {
		t.Fatalf("%+v, %d items", c.Format, c.Items)
	}
	checkListing(t, c, items, preferred)
	if hpa := c.Resources["horizontalpodautoscalers.autoscaling"]; hpa.Versions["v1"].Len() != 2 || hpa.Versions["v2"].Len() != 2 || hpa.Len() != 2 {
		t.Fatalf("hpa listing %+v", hpa)
	}
}
