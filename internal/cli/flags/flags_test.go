package flags

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestListOptions(t *testing.T) {
	opts, err := ListOptions("ns", "")
	if err != nil || len(opts) != 1 {
		t.Fatalf("no selector: %v %v", opts, err)
	}
	opts, err = ListOptions("ns", "app=x,tier!=db")
	if err != nil || len(opts) != 2 {
		t.Fatalf("selector: %v %v", opts, err)
	}
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	if lo.Namespace != "ns" || lo.LabelSelector.String() != "app=x,tier notin (db)" {
		t.Fatalf("applied: namespace %q selector %q", lo.Namespace, lo.LabelSelector)
	}
	if _, err := ListOptions("ns", "app in (x"); err == nil || !strings.Contains(err.Error(), "invalid --selector") {
		t.Fatalf("a bad selector must be refused with the flag's name: %v", err)
	}
}

func TestMap(t *testing.T) {
	m, err := Map("--namespace-mappings", []string{"a:b", "c:d"}, ":")
	if err != nil || m["a"] != "b" || m["c"] != "d" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range [][]string{{"a"}, {"a:"}, {"a:b", "a:c"}} {
		if _, err := Map("--namespace-mappings", bad, ":"); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSelectorKubectlSyntax(t *testing.T) {
	cases := map[string]string{
		"app=nginx":              "app=nginx",
		"app==nginx,tier!=db":    "app=nginx,tier notin (db)",
		"tier in (web,db),!beta": "!beta,tier in (db,web)",
		"env notin (dev),owner":  "env notin (dev),owner",
	}
	for in, want := range cases {
		sel, err := Selector(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		ls, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || ls.String() != want {
			t.Errorf("%q became %q (%v), want %q", in, ls, err, want)
		}
	}
	if _, err := Selector("replicas>2"); err == nil {
		t.Error("> cannot be stored and must be refused")
	}
}
