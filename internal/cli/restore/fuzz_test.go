package restore

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/restore"
)

// FuzzNamespaceMappings runs --namespace-mappings values through what
// `ark restore create` does with them (flags.Map, then restore.Validate):
// no panic, and every mapping accepted names valid namespaces on both sides
// exactly as given.
//
//	go test ./internal/cli/restore -run '^$' -fuzz FuzzNamespaceMappings -fuzztime 2m
func FuzzNamespaceMappings(f *testing.F) {
	for _, s := range []string{"team-a:team-b", "a:b,c:d", "a:b,a:c", "a:a", "A:b", "a:b:c", "a", ":b", "a:", "a:b,,c:d",
		"a:" + strings.Repeat("b", 64), "nginx-example:nginx-copy", "a b:c", "-a:b", "a:b-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs := strings.Split(s, ",")
		m, err := flags.Map("--namespace-mappings", pairs, ":")
		if err != nil {
			return
		}
		problems := restore.Validate(arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: m}, nil, "b", nil)
		if len(problems) > 0 {
			for _, p := range problems {
				if !strings.Contains(p, "namespace mapping") {
					t.Fatalf("%q: problem %q does not name the mapping", s, p)
				}
			}
			return
		}
		for src, dst := range m {
			for _, ns := range []string{src, dst} {
				if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
					t.Fatalf("%q: accepted namespace %q: %v", s, ns, errs)
				}
			}
		}
	})
}
