package flags

import (
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Fuzz targets of the CLI's own parsers. Run one with, for example,
//
//	go test ./internal/cli/flags -run '^$' -fuzz FuzzSelector -fuzztime 2m
//
// The seeds below run as part of `go test`.

var selectorSeeds = []string{
	"", "app=nginx", "app==nginx,tier!=db", "tier in (web,db),!beta", "env notin (dev),owner",
	"a=1,a=2", "a=1,a=1", "a=1,a in (2,3)", "a=1,a!=1", "replicas>2", "a<1", "app in (x", "a=,b=c",
	"example.com/team=a", " app = nginx ", "a in ()", "!a,!a", "a,b,c", "a=b,,c=d", "=x", "a==", "\x00",
	strings.Repeat("k=v,", 50) + "k=v",
}

// FuzzSelector: Selector never panics, and whatever it accepts selects
// exactly what kubectl's parse of the same text selects (checked on label
// sets built from the selector's own keys and values), so nothing is
// silently changed on its way into a Backup or Restore.
func FuzzSelector(f *testing.F) {
	for _, s := range selectorSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Selector(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid --selector") {
				t.Fatalf("Selector(%q) error %q does not name the flag", s, err)
			}
			return
		}
		if sel == nil {
			if strings.TrimSpace(s) != "" {
				t.Fatalf("Selector(%q) = nil for a non-blank selector", s)
			}
			return
		}
		want, err := labels.Parse(s)
		if err != nil {
			t.Fatalf("Selector(%q) accepted what labels.Parse refuses: %v", s, err)
		}
		got, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatalf("Selector(%q) = %+v, which the API refuses: %v", s, sel, err)
		}
		for _, set := range candidateSets(want) {
			if got.Matches(set) != want.Matches(set) {
				t.Fatalf("Selector(%q) = %q selects %v differently from kubectl's %q", s, got, set, want)
			}
		}
	})
}

// candidateSets are label sets that tell selectors on the same keys apart:
// every combination, for up to 4 keys, of each key absent, set to each value
// the selector names, or set to a value it does not name.
func candidateSets(sel labels.Selector) []labels.Set {
	reqs, _ := sel.Requirements()
	values := map[string][]string{}
	for _, r := range reqs {
		values[r.Key()] = append(values[r.Key()], r.Values().List()...)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 4 {
		keys = keys[:4]
	}
	sets := []labels.Set{{}}
	for _, k := range keys {
		choices := append([]string{"", "zz-unnamed"}, values[k]...)
		var next []labels.Set
		for _, set := range sets {
			for _, v := range choices {
				n := labels.Set{}
				for kk, vv := range set {
					n[kk] = vv
				}
				if v != "" {
					n[k] = v
				}
				next = append(next, n)
			}
		}
		sets = next
		if len(sets) > 4096 {
			break
		}
	}
	return sets
}

// FuzzMap: Map never panics; it returns exactly the pairs given (keys and
// values non-empty, split at the first separator, none twice), or an error
// naming the flag.
func FuzzMap(f *testing.F) {
	for _, s := range []string{"a:b,c:d", "a", "a:", ":b", "a:b,a:c", "a:b:c", "", ",", "a=b", "team-a:team-b"} {
		f.Add(s, ":")
		f.Add(strings.ReplaceAll(s, ":", "="), "=")
	}
	f.Fuzz(func(t *testing.T, s, sep string) {
		if sep == "" {
			return
		}
		pairs := strings.Split(s, ",")
		m, err := Map("--flag", pairs, sep)
		if err != nil {
			if !strings.Contains(err.Error(), "--flag") {
				t.Fatalf("Map(%q, %q) error %q does not name the flag", s, sep, err)
			}
			return
		}
		n := 0
		for _, p := range pairs {
			if p == "" {
				continue
			}
			n++
			k, v, _ := strings.Cut(p, sep)
			if m[k] != v || k == "" || v == "" {
				t.Fatalf("Map(%q, %q) = %v, lost or changed pair %q", s, sep, m, p)
			}
		}
		if len(m) != n {
			t.Fatalf("Map(%q, %q) = %v: %d pairs given, %d kept", s, sep, m, n, len(m))
		}
	})
}

// FuzzLabels: Labels never panics, and every map it accepts is one the API
// server accepts as labels.
func FuzzLabels(f *testing.F) {
	for _, s := range []string{"app=nginx", "example.com/team=a", "a b=c", "a=b c", "a=" + strings.Repeat("x", 64), "-a=b", "a/b/c=d", "a=b,c=d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Labels(strings.Split(s, ","))
		if err != nil {
			if !strings.Contains(err.Error(), "--labels") {
				t.Fatalf("Labels(%q) error %q does not name the flag", s, err)
			}
			return
		}
		for k, v := range m {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				t.Fatalf("Labels(%q) accepted key %q: %v", s, k, errs)
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Fatalf("Labels(%q) accepted value %q: %v", s, v, errs)
			}
		}
	})
}

// FuzzDuration: ParseDuration never panics, never returns a negative
// duration, and agrees with time.ParseDuration on what it accepts.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"720h", "1h30m", "90s", "0", "0s", "-1h", "30d", "", " 1h ", "1.5h", "9223372036854775807ns", "9999999999h", "1e3s", ".5s", "1h-1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		std, stdErr := time.ParseDuration(strings.TrimSpace(s))
		switch {
		case err != nil && stdErr == nil && std >= 0:
			t.Fatalf("ParseDuration(%q) refused %v: %v", s, std, err)
		case err == nil && (stdErr != nil || d != std || d < 0):
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration says %v, %v", s, d, std, stdErr)
		case err != nil && !strings.Contains(err.Error(), "720h"):
			t.Fatalf("ParseDuration(%q) error %q shows no example", s, err)
		}
	})
}
