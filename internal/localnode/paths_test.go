package localnode

import (
	"strings"
	"testing"
)

func TestPathMapRewritesMountPathsAsWholePaths(t *testing.T) {
	m, err := newPathMap(map[string]string{
		"/data":          "/vol/data",
		"/data/sub":      "/vol/sub",
		"/var/log/nginx": "/vol/logs",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"/data":                        "/vol/data",
		"/data/f":                      "/vol/data/f",
		"echo x > /data/f":             "echo x > /vol/data/f",
		"echo x >/data/f":              "echo x >/vol/data/f",
		"cat '/data/f' \"/data/g\"":    "cat '/vol/data/f' \"/vol/data/g\"",
		"--dir=/data":                  "--dir=/vol/data",
		"PATH=/bin:/data/bin":          "PATH=/bin:/vol/data/bin",
		"/data/sub/x":                  "/vol/sub/x",       // the longest mountPath wins
		"/data/subway":                 "/vol/data/subway", // not /data/sub: a whole segment
		"/database":                    "/database",        // not a mountPath
		"foo/data":                     "foo/data",         // relative
		"/tmp/data":                    "/tmp/data",        // /data inside another path
		"ls /var/log/nginx/access.log": "ls /vol/logs/access.log",
		"$(cat /data/f)":               "$(cat /vol/data/f)",
		"no paths here":                "no paths here",
	}
	for in, want := range cases {
		if got := m.rewrite(in); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPathMapRejectsRootAndDuplicates(t *testing.T) {
	if _, err := newPathMap(map[string]string{"/": "/x"}); err == nil || !strings.Contains(err.Error(), "cannot mount a volume at /") {
		t.Fatalf("mount at /: err = %v", err)
	}
	if _, err := newPathMap(map[string]string{"/a": "/x", "/a/": "/y"}); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("duplicate: err = %v", err)
	}
	if _, err := newPathMap(map[string]string{"rel": "/x"}); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Fatalf("relative: err = %v", err)
	}
}

func TestExpandFollowsKubeletRules(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := map[string]string{
		"$(A)":          "1",
		"x$(A)y$(B)z":   "x1ytwoz",
		"$(MISSING)":    "$(MISSING)",
		"$$(A)":         "$(A)",
		"$$":            "$",
		"$A":            "$A",
		"$(unfinished":  "$(unfinished",
		"end$":          "end$",
		"plain":         "plain",
		"$(A)$(A)$$(B)": "11$(B)",
	}
	for in, want := range cases {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
