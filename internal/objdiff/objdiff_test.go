package objdiff

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCompare(t *testing.T) {
	a := decode(t, `{"metadata":{"labels":{"app.kubernetes.io/name":"web","tier":"fe"}},
		"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"web","image":"nginx:1"},{"name":"side","image":"busybox"}]}},
		"ports":[{"port":80},{"port":443}]},"data":{"k":"v","gone":"x"}}`)
	b := decode(t, `{"metadata":{"labels":{"app.kubernetes.io/name":"web2","tier":"fe"}},
		"spec":{"replicas":3.0,"template":{"spec":{"containers":[{"name":"extra","image":"x"},{"name":"web","image":"nginx:2"},{"name":"side","image":"busybox"}]}},
		"ports":[{"port":80}]},"data":{"k":"v","new":"y"}}`)
	got := []string{}
	for _, c := range Compare(a, b) {
		got = append(got, c.String())
	}
	want := []string{
		`data.gone: removed (was "x")`,
		`data.new: added "y"`,
		`metadata.labels["app.kubernetes.io/name"]: "web" -> "web2"`,
		`spec.ports[1]: removed (was {"port":443})`,
		`spec.replicas: 1 -> 3`,
		`spec.template.spec.containers[name=extra]: added {"image":"x","name":"extra"}`,
		`spec.template.spec.containers[name=web].image: "nginx:1" -> "nginx:2"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := Compare(a, a); len(c) != 0 {
		t.Errorf("an object differs from itself: %v", c)
	}
}

func TestCompareTypesAndNulls(t *testing.T) {
	a := decode(t, `{"x":{"a":1},"y":[1],"z":null,"w":"1"}`)
	b := decode(t, `{"x":[1],"y":{"a":1},"z":null,"w":1}`)
	if got := len(Compare(a, b)); got != 3 {
		t.Errorf("%d changes: %v", got, Compare(a, b))
	}
}

func TestLongValuesAreCut(t *testing.T) {
	c := Change{Path: "data.big", Before: strings.Repeat("x", 1000), After: "y"}
	if s := c.String(); len(s) > 300 || !strings.Contains(s, "(1002 bytes)") {
		t.Errorf("%d: %s", len(s), s)
	}
}
