package archive

import (
	"bytes"
	"testing"
)

// Has lets the backup engine skip an item written already (an item a
// plugin's action pulls in that its resource's LIST returned earlier)
// instead of having Add refuse it.
func TestWriterHas(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	cm := Item{Resource: "configmaps", Namespace: "a", Name: "cm1"}
	if w.Has(cm) {
		t.Fatal("Has is true before the item was added")
	}
	if err := w.Add(cm, []byte(`{"kind":"ConfigMap"}`)); err != nil {
		t.Fatal(err)
	}
	if !w.Has(cm) {
		t.Error("Has is false after the item was added")
	}
	for _, other := range []Item{
		{Resource: "configmaps", Namespace: "b", Name: "cm1"},
		{Resource: "secrets", Namespace: "a", Name: "cm1"},
		{Resource: "configmaps", Namespace: "a", Name: "cm2"},
	} {
		if w.Has(other) {
			t.Errorf("Has(%v) is true; only %v was added", other, cm)
		}
	}
	if err := w.Add(cm, []byte(`{"kind":"ConfigMap"}`)); err == nil {
		t.Error("a second Add of the same item was accepted; Has exists because it is refused")
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
