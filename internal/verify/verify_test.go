package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/heptio/ark/internal/archive"
)

type entry struct {
	item archive.Item
	json string
}

func cm(ns, name string) entry {
	return entry{archive.Item{Resource: "configmaps", Namespace: ns, Name: name},
		fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q},"data":{"k":"v"}}`, name, ns)}
}

func deploy(ns, name string) entry {
	return entry{archive.Item{Resource: "deployments.apps", Namespace: ns, Name: name},
		fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":%q}}`, name, ns)}
}

func nsObj(name string) entry {
	return entry{archive.Item{Resource: "namespaces", Name: name},
		fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, name)}
}

// write builds an archive with Ark's writer and returns it with what a
// backup would record of it.
func write(t *testing.T, entries ...entry) ([]byte, Expected) {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		if err := w.Add(e.item, []byte(e.json)); err != nil {
			t.Fatal(err)
		}
		if e.item.Version == "" {
			counts[e.item.Resource]++
		}
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), Expected{SHA256: sum.SHA256, Size: sum.Size, ResourceCounts: counts}
}

func run(t *testing.T, data []byte, exp Expected) *Report {
	t.Helper()
	rep, err := Archive(context.Background(), bytes.NewReader(data), exp, archive.Limits{})
	if err != nil {
		t.Fatalf("Archive: %v", err)
	}
	return rep
}

func checkResult(t *testing.T, rep *Report, name, want string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			if c.Result != want {
				t.Errorf("check %q: %s (%s), want %s", name, c.Result, c.Detail, want)
			}
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return Check{}
}

func TestVerifyIntactArchive(t *testing.T) {
	data, exp := write(t, cm("a", "one"), cm("a", "two"), cm("b", "three"), deploy("a", "web"), nsObj("a"), nsObj("b"))
	rep := run(t, data, exp)
	if !rep.Verified || rep.Reason != "" || len(rep.Problems) != 0 {
		t.Fatalf("intact archive not verified: %+v", rep)
	}
	if rep.Items != 6 || rep.Resources != 3 || rep.Namespaces != 2 || rep.Bytes != exp.Size || rep.SHA256 != exp.SHA256 || !rep.Indexed || rep.Format != archive.OriginArk {
		t.Errorf("summary: %+v", rep)
	}
	for _, c := range []string{CheckDigest, CheckIndex, CheckObjects, CheckCounts} {
		checkResult(t, rep, c, Passed)
	}
	if rep.ResourceCounts["configmaps"] != 3 || rep.ResourceCounts["deployments.apps"] != 1 {
		t.Errorf("counts %v", rep.ResourceCounts)
	}
}

func TestVerifyWithNothingRecordedSkipsWhatItCannotCompare(t *testing.T) {
	data, _ := write(t, cm("a", "one"))
	rep := run(t, data, Expected{})
	if !rep.Verified {
		t.Fatalf("not verified: %+v", rep)
	}
	d := checkResult(t, rep, CheckDigest, Skipped)
	if !strings.Contains(d.Detail, rep.SHA256) {
		t.Errorf("a skipped digest check must print the digest to compare by hand: %s", d.Detail)
	}
	checkResult(t, rep, CheckCounts, Skipped)
	checkResult(t, rep, CheckIndex, Passed)
}

func TestVerifyFlippedByte(t *testing.T) {
	data, exp := write(t, cm("a", "one"), cm("a", "two"), cm("b", "three"))
	for _, at := range []int{len(data) / 2, len(data) - 5} {
		bad := bytes.Clone(data)
		bad[at] ^= 0x01
		rep := run(t, bad, exp)
		if rep.Verified {
			t.Fatalf("byte %d flipped: verified", at)
		}
		if rep.Reason != ReasonDigestMismatch {
			t.Errorf("byte %d flipped: reason %s (%s), want the digest mismatch first", at, rep.Reason, rep.Problem)
		}
		checkResult(t, rep, CheckDigest, Failed)
		if c := checkResult(t, rep, CheckIndex, Failed); c.Detail == "" {
			t.Error("the broken stream must be described")
		}
		if rep.Bytes != int64(len(bad)) {
			t.Errorf("the whole object must be read for its digest: %d of %d bytes", rep.Bytes, len(bad))
		}
	}
}

func TestVerifyReplacedItemReindexed(t *testing.T) {
	data, exp := write(t, cm("a", "one"), cm("a", "two"))
	other := cm("a", "two")
	other.json = strings.Replace(other.json, `"v"`, `"tampered"`, 1)
	rebuilt, _ := write(t, cm("a", "one"), other)
	rep := run(t, rebuilt, exp)
	if rep.Verified || rep.Reason != ReasonDigestMismatch {
		t.Fatalf("a rebuilt archive must fail on its digest: %+v", rep)
	}
	checkResult(t, rep, CheckIndex, Passed)
	checkResult(t, rep, CheckObjects, Passed)
	checkResult(t, rep, CheckCounts, Passed)
	if !strings.Contains(rep.Problem, exp.SHA256) {
		t.Errorf("the problem must name the recorded digest: %s", rep.Problem)
	}
	_ = data
}

func TestVerifyCountMismatch(t *testing.T) {
	data, exp := write(t, cm("a", "one"), cm("a", "two"), deploy("a", "web"))
	exp.ResourceCounts = map[string]int{"configmaps": 3, "secrets": 1}
	rep := run(t, data, exp)
	if rep.Verified || rep.Reason != ReasonCountMismatch {
		t.Fatalf("%+v", rep)
	}
	c := checkResult(t, rep, CheckCounts, Failed)
	for _, want := range []string{"configmaps: the backup recorded 3, the archive holds 2", "deployments.apps: the backup recorded 0, the archive holds 1", "secrets: the backup recorded 1, the archive holds 0"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("count detail %q lacks %q", c.Detail, want)
		}
	}
}

func TestVerifyObjectsDisagreeingWithTheirPath(t *testing.T) {
	cases := []struct {
		name string
		e    entry
		want string
	}{
		{"not an object", entry{archive.Item{Resource: "configmaps", Namespace: "a", Name: "x"}, `{"data":{}}`}, "has no apiVersion"},
		{"no kind", entry{archive.Item{Resource: "configmaps", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","metadata":{"name":"x","namespace":"a"}}`}, "has no kind"},
		{"no name", entry{archive.Item{Resource: "configmaps", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"namespace":"a"}}`}, "has no metadata.name"},
		{"other name", entry{archive.Item{Resource: "configmaps", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"y","namespace":"a"}}`}, `holds ConfigMap "y", not "x"`},
		{"other namespace", entry{archive.Item{Resource: "configmaps", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"b"}}`}, `stored in namespace "a" but holds ConfigMap x of namespace "b"`},
		{"namespaced as cluster", entry{archive.Item{Resource: "configmaps", Name: "x"}, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"b"}}`}, "stored as cluster-scoped"},
		{"other group", entry{archive.Item{Resource: "deployments.apps", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","kind":"Deployment","metadata":{"name":"x","namespace":"a"}}`}, `not of the API group "apps"`},
		{"other kind", entry{archive.Item{Resource: "configmaps", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x","namespace":"a"}}`}, "holds a Secret, but other items of configmaps are ConfigMap"},
		{"only other kind", entry{archive.Item{Resource: "services", Namespace: "a", Name: "x"}, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x","namespace":"a"}}`}, "the items of services are Secret, whose resource is secrets"},
		{"wrong version dir", entry{archive.Item{Resource: "deployments.apps", Version: "v1beta1", Namespace: "a", Name: "x"}, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x","namespace":"a"}}`}, "version directory v1beta1 but holds apiVersion apps/v1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries := []entry{cm("a", "fine"), tc.e}
			if tc.e.item.Version != "" {
				// A version directory goes with the unversioned copy.
				entries = append(entries, entry{archive.Item{Resource: tc.e.item.Resource, Namespace: "a", Name: "x"}, tc.e.json})
			}
			data, exp := write(t, entries...)
			rep := run(t, data, exp)
			if rep.Verified || rep.Reason != ReasonInvalidObject {
				t.Fatalf("%+v", rep)
			}
			checkResult(t, rep, CheckObjects, Failed)
			checkResult(t, rep, CheckDigest, Passed)
			if !strings.Contains(rep.Problem, tc.want) {
				t.Errorf("problem %q lacks %q", rep.Problem, tc.want)
			}
		})
	}
}

func TestVerifyTwoKindsInOneResource(t *testing.T) {
	odd := entry{archive.Item{Resource: "widgets.example.com", Namespace: "a", Name: "b"}, `{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"b","namespace":"a"}}`}
	w := entry{archive.Item{Resource: "widgets.example.com", Namespace: "a", Name: "a"}, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"a","namespace":"a"}}`}
	data, exp := write(t, w, odd)
	rep := run(t, data, exp)
	if rep.Verified || !strings.Contains(rep.Problem, "holds a Gadget, but other items of widgets.example.com are Widget") {
		t.Fatalf("%+v", rep)
	}
}

// A custom resource with an irregular plural is checked against its CRD
// when the backup holds it, and said to be unchecked when it does not.
func TestVerifyCustomResourceKinds(t *testing.T) {
	crd := func(kind string) entry {
		return entry{archive.Item{Resource: crdResource, Name: "octopi.example.com"},
			fmt.Sprintf(`{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"octopi.example.com"},"spec":{"group":"example.com","names":{"plural":"octopi","kind":%q}}}`, kind)}
	}
	octopus := entry{archive.Item{Resource: "octopi.example.com", Namespace: "a", Name: "o"}, `{"apiVersion":"example.com/v1","kind":"Octopus","metadata":{"name":"o","namespace":"a"}}`}

	data, exp := write(t, octopus, crd("Octopus"))
	if rep := run(t, data, exp); !rep.Verified || strings.Contains(checkResult(t, rep, CheckObjects, Passed).Detail, "not checked") {
		t.Errorf("with its CRD: %+v", rep)
	}
	data, exp = write(t, octopus, crd("Squid"))
	if rep := run(t, data, exp); rep.Verified || !strings.Contains(rep.Problem, "CustomResourceDefinition of octopi.example.com says its kind is Squid") {
		t.Errorf("with a CRD of another kind: %+v", rep)
	}
	data, exp = write(t, octopus)
	rep := run(t, data, exp)
	if !rep.Verified {
		t.Fatalf("without its CRD: %+v", rep)
	}
	if d := checkResult(t, rep, CheckObjects, Passed).Detail; !strings.Contains(d, "octopi.example.com (Octopus)") {
		t.Errorf("the unchecked resource must be named: %s", d)
	}
}

func TestVerifyTruncatedAndEmpty(t *testing.T) {
	data, exp := write(t, cm("a", "one"), cm("a", "two"))
	for name, bad := range map[string][]byte{"truncated": data[:len(data)/2], "empty": nil, "garbage": []byte("not an archive at all")} {
		rep := run(t, bad, exp)
		if rep.Verified || rep.Reason != ReasonDigestMismatch {
			t.Errorf("%s: %+v", name, rep)
		}
		checkResult(t, rep, CheckIndex, Failed)
		checkResult(t, rep, CheckCounts, Skipped)
		if rep.Bytes != int64(len(bad)) {
			t.Errorf("%s: read %d of %d bytes", name, rep.Bytes, len(bad))
		}
	}
	// Without a recorded digest, the broken structure is the reason.
	rep := run(t, data[:len(data)/2], Expected{})
	if rep.Reason != ReasonInvalidArchive || !strings.Contains(rep.Problem, "invalid backup archive") {
		t.Errorf("truncated, no digest: %+v", rep)
	}
}

type failingReader struct {
	r     io.Reader
	after int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if len(p) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

func TestVerifySourceErrorIsNotABrokenArchive(t *testing.T) {
	data, exp := write(t, cm("a", "one"), cm("a", "two"))
	rep, err := Archive(context.Background(), &failingReader{r: bytes.NewReader(data), after: 40}, exp, archive.Limits{})
	if err == nil || !IsSourceError(err) {
		t.Fatalf("err = %v, want a SourceError", err)
	}
	if rep.Verified || rep.Reason != ReasonArchiveUnreadable || !strings.Contains(rep.Problem, "connection reset by peer") {
		t.Fatalf("%+v", rep)
	}
	for _, c := range rep.Checks {
		if c.Result != Skipped {
			t.Errorf("check %s: %s; nothing can be said of an archive that could not be read", c.Name, c.Result)
		}
	}
}

func TestVerifyCancelled(t *testing.T) {
	data, exp := write(t, cm("a", "one"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Archive(ctx, bytes.NewReader(data), exp, archive.Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// An archive of Heptio Ark v0.7 has no index: verify says the items could
// not be checked one by one, and still checks the objects and counts.
func TestVerifyArchiveWithoutIndex(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range []entry{cm("a", "one"), nsObj("a")} {
		body := []byte(e.json)
		if err := tw.WriteHeader(&tar.Header{Name: e.item.Path(), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	rep := run(t, buf.Bytes(), Expected{ResourceCounts: map[string]int{"configmaps": 1, "namespaces": 1}})
	if !rep.Verified || rep.Indexed || rep.Format != archive.OriginHeptioArk7 {
		t.Fatalf("%+v", rep)
	}
	if d := checkResult(t, rep, CheckIndex, Skipped).Detail; !strings.Contains(d, "without an index") {
		t.Errorf("index detail: %s", d)
	}
	checkResult(t, rep, CheckObjects, Passed)
	checkResult(t, rep, CheckCounts, Passed)
}

func TestMissing(t *testing.T) {
	rep := Missing("bucket ark, key b/b.tar.gz")
	if rep.Verified || rep.Reason != ReasonArchiveMissing || !strings.Contains(rep.Problem, "bucket ark, key b/b.tar.gz") {
		t.Fatalf("%+v", rep)
	}
}

func TestVerifyVersionDirectoriesAreCountedApart(t *testing.T) {
	v1 := deploy("a", "web")
	v1.item.Version, v1.item.Preferred = "v1", true
	data, exp := write(t, deploy("a", "web"), v1)
	rep := run(t, data, exp)
	if !rep.Verified || rep.Items != 1 || rep.VersionedItems != 1 || rep.ResourceCounts["deployments.apps"] != 1 {
		t.Fatalf("%+v", rep)
	}
}
