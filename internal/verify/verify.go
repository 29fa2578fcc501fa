// Package verify proves that a backup archive is the one its backup wrote and
// that it would restore: it reads the archive once, as a stream, and checks
// the whole-archive digest the Backup recorded, every item against the
// archive's index, every item as a Kubernetes object whose kind, namespace
// and name agree with its place in the archive, and the number of items of
// each resource against the Backup's status.resourceCounts.
//
// Nothing is extracted and no item is kept: memory is that of the archive
// Reader (one entry, plus about the length of each name and 4 bytes per
// item) and of one counter per resource and namespace. Both the CLI (`ark
// backup verify`) and the server's continuous verification use it.
// docs/verification.md says what each check proves and what it does not.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
)

// Expected is what the backup recorded about its archive. A zero field is
// not checked, and the Report says so.
type Expected struct {
	// SHA256 and Size are status.archive: the compressed stream as uploaded.
	SHA256 string
	Size   int64
	// ResourceCounts is status.resourceCounts: items per "resource[.group]".
	// nil: not recorded.
	ResourceCounts map[string]int
}

// ExpectedOf is what a Backup's status records.
func ExpectedOf(b *arkv1.Backup) Expected {
	var e Expected
	if a := b.Status.Archive; a != nil {
		e.SHA256, e.Size = a.SHA256, a.Size
	}
	if b.Status.Phase == arkv1.BackupPhaseCompleted || b.Status.Phase == arkv1.BackupPhasePartiallyFailed {
		// A finished backup records every resource it wrote; none at all
		// means it wrote nothing.
		e.ResourceCounts = b.Status.ResourceCounts
		if e.ResourceCounts == nil && b.Status.Archive != nil {
			e.ResourceCounts = map[string]int{}
		}
	}
	return e
}

// The checks, by name.
const (
	CheckDigest  = "archive digest"
	CheckIndex   = "index"
	CheckObjects = "objects"
	CheckCounts  = "resource counts"
)

// Results of a check.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Check is the outcome of one check.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	// Detail says what was compared, or why the check failed or was skipped.
	Detail string `json:"detail"`
}

// Report is what a verification found. Verified is true only when no check
// failed; a skipped check (nothing recorded to compare with, an archive
// without an index) is said in its Detail.
type Report struct {
	Verified bool `json:"verified"`
	// Reason is a short CamelCase word for a failure (DigestMismatch,
	// ArchiveUnreadable, InvalidArchive, InvalidObject, CountMismatch), for
	// conditions and scripts; "" when verified.
	Reason string `json:"reason,omitempty"`
	// Problem is the first failure, in one sentence; "" when verified.
	Problem string `json:"problem,omitempty"`

	Format        string `json:"format"`
	FormatVersion string `json:"formatVersion,omitempty"`
	Indexed       bool   `json:"indexed"`

	// Items counts the objects of the archive (the unversioned copy);
	// VersionedItems the extra copies in version directories.
	Items          int `json:"items"`
	VersionedItems int `json:"versionedItems,omitempty"`
	Resources      int `json:"resources"`
	Namespaces     int `json:"namespaces"`
	// Bytes and SHA256 are of the compressed archive as read.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// ResourceCounts is what the archive holds per resource.
	ResourceCounts map[string]int `json:"resourceCounts"`

	Checks []Check `json:"checks"`
	// Problems lists every failure found (at most maxProblems, then a
	// count of the others).
	Problems []string `json:"problems,omitempty"`
}

// Reasons of a failed verification.
const (
	ReasonArchiveMissing    = "ArchiveMissing"
	ReasonDigestMismatch    = "DigestMismatch"
	ReasonArchiveUnreadable = "ArchiveUnreadable"
	ReasonInvalidArchive    = "InvalidArchive"
	ReasonInvalidObject     = "InvalidObject"
	ReasonCountMismatch     = "CountMismatch"
)

// maxProblems bounds the problems a Report lists, so a thoroughly broken
// archive of a million items does not make a million-line report.
const maxProblems = 20

// Archive reads the compressed archive r to its end and checks it against
// exp. It returns an error only when the reading itself failed for a reason
// that says nothing of the archive (ctx ended); a damaged, truncated or
// unreadable archive is a failed Report. Reading errors of the source (a
// connection reset) fail the Report with ArchiveUnreadable: the caller can
// tell them apart, with errors.Is, through SourceError.
func Archive(ctx context.Context, r io.Reader, exp Expected, lim archive.Limits) (*Report, error) {
	v := &verifier{exp: exp, rep: &Report{}, objects: newObjectChecker()}
	err := v.run(ctx, r, lim)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	return v.rep, err
}

type verifier struct {
	exp     Expected
	rep     *Report
	objects *objectChecker
	counts  map[string]int
	spaces  map[string]struct{}
	// more counts the problems beyond maxProblems.
	more int
}

// SourceError wraps a read error of the source: the archive could not be
// read, which says nothing of whether it is intact.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

func (v *verifier) run(ctx context.Context, r io.Reader, lim archive.Limits) error {
	src := &sourceErrors{r: r}
	digest := archive.NewVerifyingReader(&ctxReader{ctx: ctx, r: src})
	v.counts = map[string]int{}
	v.spaces = map[string]struct{}{}
	readErr := v.readItems(digest, lim)
	if readErr != nil && src.err == nil {
		// The archive is broken: read what is left so the digest and size
		// say how the object differs from the recorded one too.
		_, _ = io.Copy(io.Discard, digest)
	}
	v.rep.Bytes, v.rep.SHA256 = digest.Size(), digest.SHA256()
	if src.err != nil {
		msg := fmt.Sprintf("reading the archive failed after %d bytes: %v", digest.Size(), src.err)
		v.setReason(ReasonArchiveUnreadable, msg)
		v.problem(msg)
		for _, c := range []string{CheckDigest, CheckIndex, CheckObjects, CheckCounts} {
			v.skip(c, "the archive could not be read to its end")
		}
		v.finish()
		return &SourceError{Err: src.err}
	}
	v.checkDigest(digest)
	if readErr != nil {
		v.fail(CheckIndex, ReasonInvalidArchive, readErr.Error())
		v.finishObjects(false)
		v.skip(CheckCounts, "the archive could not be read to its end")
	} else {
		v.checkIndexed()
		v.finishObjects(true)
		v.checkCounts()
	}
	v.finish()
	return nil
}

// readItems reads every item and checks it as an object.
func (v *verifier) readItems(r io.Reader, lim archive.Limits) error {
	ar, err := archive.NewReader(r, lim)
	if err != nil {
		return err
	}
	defer func() {
		f := ar.Format()
		v.rep.Format, v.rep.FormatVersion, v.rep.Indexed = f.Origin, f.Version, f.Indexed
	}()
	for {
		item, data, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if item.Version != "" {
			v.rep.VersionedItems++
		} else {
			v.rep.Items++
			v.counts[item.Resource]++
			if item.Namespace != "" {
				v.spaces[item.Namespace] = struct{}{}
			}
		}
		if problem := v.objects.check(item, data); problem != "" {
			v.problem(problem)
		}
	}
}

func (v *verifier) checkDigest(d *archive.VerifyingReader) {
	if v.exp.SHA256 == "" {
		v.skip(CheckDigest, fmt.Sprintf("no recorded digest to compare with (the archive's sha256 is %s, %d bytes)", d.SHA256(), d.Size()))
		return
	}
	if got := d.SHA256(); !strings.EqualFold(got, v.exp.SHA256) {
		v.fail(CheckDigest, ReasonDigestMismatch, fmt.Sprintf("the archive's sha256 is %s (%d bytes), but the backup recorded %s (%d bytes): the archive was modified, corrupted or replaced since the backup wrote it; do not restore from it",
			got, d.Size(), v.exp.SHA256, v.exp.Size))
		return
	}
	if d.Size() != v.exp.Size {
		v.fail(CheckDigest, ReasonDigestMismatch, fmt.Sprintf("the archive has %d bytes, but the backup recorded %d with the same sha256 %s: the recorded size is wrong", d.Size(), v.exp.Size, v.exp.SHA256))
		return
	}
	v.pass(CheckDigest, fmt.Sprintf("sha256 %s and size %d bytes match the backup's status.archive", d.SHA256(), d.Size()))
}

func (v *verifier) checkIndexed() {
	if !v.rep.Indexed {
		v.skip(CheckIndex, archive.Format{Origin: v.rep.Format}.Unverified())
		return
	}
	v.pass(CheckIndex, fmt.Sprintf("all %d entries match their SHA-256 and size in metadata/index.json, none missing or added", v.rep.Items+v.rep.VersionedItems))
}

func (v *verifier) finishObjects(complete bool) {
	for _, p := range v.objects.finish() {
		v.problem(p)
	}
	bad := v.objects.bad
	switch {
	case bad > 0:
		msg := fmt.Sprintf("%d items are not what their path in the archive says", bad)
		v.setCheck(Check{Name: CheckObjects, Result: Failed, Detail: msg})
		v.setReason(ReasonInvalidObject, v.objects.first)
	case !complete:
		v.skip(CheckObjects, fmt.Sprintf("the %d items read before the archive broke off are well-formed; the rest could not be read", v.rep.Items+v.rep.VersionedItems))
	default:
		detail := fmt.Sprintf("all %d items are Kubernetes objects whose apiVersion, kind, namespace and name agree with their path", v.rep.Items+v.rep.VersionedItems)
		if notes := v.objects.unchecked; len(notes) > 0 {
			detail += "; not checked against its resource name, for want of the resource's CustomResourceDefinition in the backup: " + strings.Join(notes, ", ")
		}
		v.pass(CheckObjects, detail)
	}
}

func (v *verifier) checkCounts() {
	if v.exp.ResourceCounts == nil {
		v.skip(CheckCounts, "the backup records no status.resourceCounts to compare with")
		return
	}
	var diffs []string
	for _, res := range slices.Sorted(maps.Keys(union(v.exp.ResourceCounts, v.counts))) {
		want, got := v.exp.ResourceCounts[res], v.counts[res]
		if want != got {
			diffs = append(diffs, fmt.Sprintf("%s: the backup recorded %d, the archive holds %d", res, want, got))
		}
	}
	if len(diffs) > 0 {
		for _, d := range diffs {
			v.problem(d)
		}
		v.fail(CheckCounts, ReasonCountMismatch, fmt.Sprintf("items per resource differ from status.resourceCounts: %s", strings.Join(diffs, "; ")))
		return
	}
	v.pass(CheckCounts, fmt.Sprintf("the items of all %d resources match status.resourceCounts", len(v.counts)))
}

func union(a, b map[string]int) map[string]int {
	u := maps.Clone(a)
	if u == nil {
		u = map[string]int{}
	}
	for k := range b {
		u[k] += 0
	}
	return u
}

func (v *verifier) finish() {
	v.rep.Resources, v.rep.Namespaces = len(v.counts), len(v.spaces)
	v.rep.ResourceCounts = v.counts
	order := map[string]int{CheckDigest: 0, CheckIndex: 1, CheckObjects: 2, CheckCounts: 3}
	sort.SliceStable(v.rep.Checks, func(i, j int) bool { return order[v.rep.Checks[i].Name] < order[v.rep.Checks[j].Name] })
	v.rep.Verified = v.rep.Reason == ""
	if v.more > 0 {
		v.rep.Problems = append(v.rep.Problems, fmt.Sprintf("... and %d more problems", v.more))
	}
}

func (v *verifier) pass(name, detail string) {
	v.setCheck(Check{Name: name, Result: Passed, Detail: detail})
}

func (v *verifier) skip(name, detail string) {
	v.setCheck(Check{Name: name, Result: Skipped, Detail: detail})
}

func (v *verifier) fail(name, reason, detail string) {
	v.setCheck(Check{Name: name, Result: Failed, Detail: detail})
	v.setReason(reason, detail)
	v.problem(detail)
}

// setReason keeps the first failure as the report's reason, except that a
// digest mismatch is the most telling: the archive is not the one written.
func (v *verifier) setReason(reason, problem string) {
	if v.rep.Reason == "" || reason == ReasonDigestMismatch {
		v.rep.Reason, v.rep.Problem = reason, problem
	}
}

func (v *verifier) setCheck(c Check) {
	for i := range v.rep.Checks {
		if v.rep.Checks[i].Name == c.Name {
			v.rep.Checks[i] = c
			return
		}
	}
	v.rep.Checks = append(v.rep.Checks, c)
}

func (v *verifier) problem(p string) {
	if slices.Contains(v.rep.Problems, p) {
		return
	}
	if len(v.rep.Problems) >= maxProblems {
		v.more++
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

// sourceErrors remembers the source's own read error, so a broken
// connection is not mistaken for a broken archive.
type sourceErrors struct {
	r   io.Reader
	err error
}

func (s *sourceErrors) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// ctxReader stops reading when ctx ends, so a verification of a large
// archive can be cancelled between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// IsSourceError reports whether err is a read error of the source.
func IsSourceError(err error) bool {
	var s *SourceError
	return errors.As(err, &s)
}

// Missing is the Report of an archive that is not in object storage at all.
func Missing(object string) *Report {
	msg := fmt.Sprintf("the archive %s is not in object storage: it was deleted, or the store never kept it", object)
	rep := &Report{Reason: ReasonArchiveMissing, Problem: msg, Problems: []string{msg}}
	rep.Checks = append(rep.Checks, Check{Name: CheckDigest, Result: Failed, Detail: msg})
	for _, c := range []string{CheckIndex, CheckObjects, CheckCounts} {
		rep.Checks = append(rep.Checks, Check{Name: c, Result: Skipped, Detail: "there is no archive to read"})
	}
	return rep
}
