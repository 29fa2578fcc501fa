package filter

import (
	"strings"
	"testing"
)

func TestShouldInclude(t *testing.T) {
	cases := []struct {
		inc, exc []string
		name     string
		want     bool
	}{
		{nil, nil, "a", true},
		{[]string{"*"}, nil, "a", true},
		{[]string{"a"}, nil, "a", true},
		{[]string{"a"}, nil, "b", false},
		{[]string{"*"}, []string{"b"}, "b", false},
		{nil, []string{"b"}, "a", true},
	}
	for _, c := range cases {
		if got := New(c.inc, c.exc).ShouldInclude(c.name); got != c.want {
			t.Errorf("New(%v,%v).ShouldInclude(%q) = %v, want %v", c.inc, c.exc, c.name, got, c.want)
		}
	}
}

func TestIncludesAll(t *testing.T) {
	if !New(nil, nil).IncludesAll() || !New([]string{"*"}, nil).IncludesAll() {
		t.Fatal("empty and * must include all")
	}
	if New([]string{"*"}, []string{"x"}).IncludesAll() || New([]string{"a"}, nil).IncludesAll() {
		t.Fatal("an exclusion or an explicit list is not all")
	}
}

func TestValidateLists(t *testing.T) {
	errs := ValidateLists("namespace", []string{"a", "b"}, []string{"b", "*"})
	if len(errs) != 2 {
		t.Fatalf("want 2 errors, got %q", errs)
	}
	joined := strings.Join(errs, "\n")
	for _, want := range []string{`namespace "b" is both included and excluded`, `excluded namespace cannot be "*"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors %q lack %q", joined, want)
		}
	}
	if errs := ValidateLists("namespace", []string{"*"}, []string{"kube-system"}); len(errs) != 0 {
		t.Fatalf("valid lists gave %q", errs)
	}
}
