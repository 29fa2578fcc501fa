package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
)

// target is one provider wired to a running server, with what the suite
// needs to know about that server.
type target struct {
	store  objectstore.ObjectStore
	bucket string // exists and is empty
	// listPageSize is the server's largest list page; the pagination case
	// writes more keys than that.
	listPageSize int
	// signatureParam is the query parameter holding the URL signature, or
	// "" when the server does not check signatures.
	signatureParam string
	// httpClient fetches signed URLs: a plain client, plus the file://
	// transport for the filesystem store.
	httpClient *http.Client
	// wrongCredentials are misconfigurations the user can make; empty when
	// the provider has no credentials.
	wrongCredentials []credentialCase
	// stop takes the storage away for good; stoppedErr is what every call
	// must wrap afterwards, and stoppedText what the message must name.
	stop        func()
	stoppedErr  error
	stoppedText string
}

type credentialCase struct {
	name string
	// run builds a store with the bad credentials and returns the error of
	// New, or of the first call when New succeeds.
	run      func(t *testing.T) error
	wantIs   error // required sentinel, or nil
	wantText []string
}

// Sizes of the large-object case. The object is several upload parts of
// every provider (8 MiB S3 parts and Azure blocks, 16 MiB GCS chunks) and
// the heap may grow by at most a quarter of it.
const (
	largeObjectSize  = 256 << 20
	maxHeapGrowth    = largeObjectSize / 4
	hangGuard        = 3 * time.Minute // a call still running after this has hung
	signedURLTTL     = 10 * time.Minute
	interruptedAfter = 12 << 20
)

func runSuite(t *testing.T, tg target) {
	ctx := context.Background()
	s, bucket := tg.store, tg.bucket

	t.Run("PutGetOverwrite", func(t *testing.T) {
		putBytes(t, s, bucket, "roundtrip/one.json", []byte(`{"v":1}`))
		if got := getBytes(t, s, bucket, "roundtrip/one.json"); string(got) != `{"v":1}` {
			t.Fatalf("get = %q, want %q", got, `{"v":1}`)
		}
		putBytes(t, s, bucket, "roundtrip/one.json", []byte(`{"v":2}`))
		if got := getBytes(t, s, bucket, "roundtrip/one.json"); string(got) != `{"v":2}` {
			t.Fatalf("get after overwrite = %q, want %q", got, `{"v":2}`)
		}
		// An empty object is a valid object.
		putBytes(t, s, bucket, "roundtrip/empty", nil)
		if got := getBytes(t, s, bucket, "roundtrip/empty"); len(got) != 0 {
			t.Fatalf("get of empty object = %d bytes", len(got))
		}
	})

	t.Run("GetMissingKey", func(t *testing.T) {
		_, err := s.GetObject(ctx, bucket, "roundtrip/does-not-exist")
		if !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("GetObject(missing) = %v, want an error wrapping ErrNotFound", err)
		}
		if errors.Is(err, objectstore.ErrBucketNotFound) {
			t.Fatalf("GetObject(missing key) = %v: claims the bucket is missing", err)
		}
	})

	t.Run("ListPrefixesAndObjects", func(t *testing.T) {
		keys := []string{
			"listing/backups/b1/ark-backup.json",
			"listing/backups/b1/b1.tar.gz",
			"listing/backups/b2/ark-backup.json",
			"listing/restores/r1/restore-r1-logs.gz",
			"listing/top.txt",
		}
		for _, k := range keys {
			putBytes(t, s, bucket, k, []byte(k))
		}
		checkList(t, "ListCommonPrefixes(listing/, /)", []string{"listing/backups/", "listing/restores/"},
			listed(s.ListCommonPrefixes(ctx, bucket, "listing/", "/")))
		checkList(t, "ListCommonPrefixes(listing/backups/, /)", []string{"listing/backups/b1/", "listing/backups/b2/"},
			listed(s.ListCommonPrefixes(ctx, bucket, "listing/backups/", "/")))
		checkList(t, "ListCommonPrefixes(listing/backups/b, /)", []string{"listing/backups/b1/", "listing/backups/b2/"},
			listed(s.ListCommonPrefixes(ctx, bucket, "listing/backups/b", "/")))
		checkList(t, "ListCommonPrefixes(listing/nothing/, /)", nil,
			listed(s.ListCommonPrefixes(ctx, bucket, "listing/nothing/", "/")))
		checkList(t, "ListObjects(listing/backups/b1/)", keys[:2], listed(s.ListObjects(ctx, bucket, "listing/backups/b1/")))
		checkList(t, "ListObjects(listing/backups/)", keys[:3], listed(s.ListObjects(ctx, bucket, "listing/backups/")))
		checkList(t, "ListObjects(listing/)", keys, listed(s.ListObjects(ctx, bucket, "listing/")))
		checkList(t, "ListObjects(listing/t)", keys[4:], listed(s.ListObjects(ctx, bucket, "listing/t")))
		checkList(t, "ListObjects(listing/nothing/)", nil, listed(s.ListObjects(ctx, bucket, "listing/nothing/")))
	})

	// The backup store over this provider, under a nested prefix: every
	// layout of the lineage found, another prefix's left out, and the
	// location with another tool's backups seen as read-only. The store
	// builds keys the same way for every provider, so this checks that each
	// provider's listing gives it what it needs.
	t.Run("BackupLayoutsUnderAPrefix", func(t *testing.T) {
		velero := `{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"v1"},"status":{"phase":"Completed"}}`
		for k, v := range map[string]string{
			"lineage/team-a/own/ark-backup.json":              `{"metadata":{"name":"own"},"status":{"phase":"Completed"}}`,
			"lineage/team-a/own/own.tar.gz":                   "x",
			"lineage/team-a/backups/old/ark-backup.json":      `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"old"},"status":{"phase":"Completed"}}`,
			"lineage/team-a/backups/old/old.tar.gz":           "x",
			"lineage/team-a/backups/v1/velero-backup.json":    velero,
			"lineage/team-a/backups/v1/v1.tar.gz":             "x",
			"lineage/team-a/restic/shop/config":               "x",
			"lineage/team-b/backups/other/velero-backup.json": velero,
			"lineage/team-ab/elsewhere/ark-backup.json":       `{"metadata":{"name":"elsewhere"}}`,
		} {
			putBytes(t, s, bucket, k, []byte(v))
		}
		store := backupstore.New(s, bucket, backupstore.Options{Prefix: "lineage/team-a"})
		found, shadowed, err := store.ListBackups(ctx)
		want := []backupstore.Ref{{Name: "old", Layout: arkv1.BackupLayoutArkV010}, {Name: "own", Layout: arkv1.BackupLayoutArk}, {Name: "v1", Layout: arkv1.BackupLayoutVelero}}
		if err != nil || !slices.Equal(found, want) || len(shadowed) != 0 {
			t.Fatalf("ListBackups = %v, %v, %v; want %v", found, shadowed, err, want)
		}
		for _, ref := range found {
			b, err := store.GetMetadata(ctx, ref)
			if err != nil || b.Name != ref.Name || b.Status.Origin == nil || b.Status.Origin.Layout != ref.Layout {
				t.Errorf("GetMetadata(%v) = %+v, %v", ref, b, err)
			}
		}
		if reason, err := store.ReadOnlyReason(ctx); err != nil || !strings.Contains(reason, "lineage/team-a/") {
			t.Errorf("ReadOnlyReason = %q, %v; want the location read-only, naming another tool's file", reason, err)
		}
		if reason, err := backupstore.New(s, bucket, backupstore.Options{Prefix: "lineage/team-ab"}).ReadOnlyReason(ctx); err != nil || reason != "" {
			t.Errorf("ReadOnlyReason of a prefix of Ark's own = %q, %v", reason, err)
		}
	})

	t.Run("ListPaginates", func(t *testing.T) {
		n := tg.listPageSize + 10
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("paged/backup-%05d/ark-backup.json", i))
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for _, k := range want {
			g.Go(func() error { return tg.store.PutObject(gctx, bucket, k, strings.NewReader("{}")) })
		}
		mustf(t, g.Wait(), "writing %d objects", n)
		checkList(t, "ListObjects(paged/)", want, listed(s.ListObjects(ctx, bucket, "paged/")))
		prefixes := listed(s.ListCommonPrefixes(ctx, bucket, "paged/", "/"))
		if len(prefixes.v) != n || prefixes.err != nil {
			t.Fatalf("ListCommonPrefixes(paged/) = %d prefixes, %v; want %d", len(prefixes.v), prefixes.err, n)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		putBytes(t, s, bucket, "deleting/b1/ark-backup.json", []byte("x"))
		putBytes(t, s, bucket, "deleting/b1/keep", []byte("y"))
		mustf(t, s.DeleteObject(ctx, bucket, "deleting/b1/ark-backup.json"), "DeleteObject")
		if _, err := s.GetObject(ctx, bucket, "deleting/b1/ark-backup.json"); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("GetObject after delete = %v, want ErrNotFound", err)
		}
		checkList(t, "ListObjects(deleting/) after delete", []string{"deleting/b1/keep"}, listed(s.ListObjects(ctx, bucket, "deleting/")))
		mustf(t, s.DeleteObject(ctx, bucket, "deleting/b1/ark-backup.json"), "DeleteObject of a key already deleted")
		mustf(t, s.DeleteObject(ctx, bucket, "deleting/never-existed"), "DeleteObject of a key that never existed")
		mustf(t, s.DeleteObject(ctx, bucket, "deleting/b1/keep"), "DeleteObject of the last key under a prefix")
		checkList(t, "ListCommonPrefixes(deleting/) after deleting all", nil, listed(s.ListCommonPrefixes(ctx, bucket, "deleting/", "/")))
	})

	t.Run("SignedURL", func(t *testing.T) {
		body := []byte("backup log contents\n")
		putBytes(t, s, bucket, "signed/b1/b1-logs.gz", body)
		putBytes(t, s, bucket, "signed/b1/other", []byte("not for this URL"))
		u, err := s.CreateSignedURL(ctx, bucket, "signed/b1/b1-logs.gz", signedURLTTL)
		mustf(t, err, "CreateSignedURL")
		status, got := fetch(t, tg.httpClient, u)
		if status != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("GET signed URL = %d %q, want 200 %q", status, got, body)
		}
		if tg.signatureParam == "" {
			t.Logf("this server does not check URL signatures; tampering is not tested here")
			return
		}
		for name, bad := range map[string]string{
			"signature changed": tamperQuery(t, u, tg.signatureParam),
			"key changed":       strings.Replace(u, "b1-logs.gz", "other", 1),
		} {
			if status, got := fetch(t, tg.httpClient, bad); status < 400 {
				t.Errorf("GET signed URL with %s = %d %q, want it refused", name, status, got)
			}
		}
	})

	t.Run("MissingBucket", func(t *testing.T) {
		missing := fmt.Sprintf("ark-missing-%d", rand.Uint32())
		calls := map[string]func() error{
			"PutObject": func() error { return s.PutObject(ctx, missing, "k", strings.NewReader("x")) },
			"GetObject": func() error { _, err := s.GetObject(ctx, missing, "k"); return err },
			"ListObjects": func() error {
				_, err := s.ListObjects(ctx, missing, "")
				return err
			},
			"ListCommonPrefixes": func() error {
				_, err := s.ListCommonPrefixes(ctx, missing, "", "/")
				return err
			},
			"DeleteObject": func() error { return s.DeleteObject(ctx, missing, "k") },
		}
		for name, call := range calls {
			err := call()
			if !errors.Is(err, objectstore.ErrBucketNotFound) {
				t.Errorf("%s on a missing bucket = %v, want an error wrapping ErrBucketNotFound", name, err)
				continue
			}
			if !strings.Contains(err.Error(), missing) {
				t.Errorf("%s on a missing bucket: %q does not name the bucket %q", name, err, missing)
			}
		}
	})

	t.Run("WrongCredentials", func(t *testing.T) {
		if len(tg.wrongCredentials) == 0 {
			t.Skip("this provider has no credentials; file permissions are mapped to ErrAccessDenied (unit-tested)")
		}
		for _, c := range tg.wrongCredentials {
			t.Run(c.name, func(t *testing.T) {
				err := c.run(t)
				if err == nil {
					t.Fatal("succeeded with wrong credentials")
				}
				if c.wantIs != nil && !errors.Is(err, c.wantIs) {
					t.Errorf("error %q does not wrap %v", err, c.wantIs)
				}
				for _, want := range c.wantText {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				t.Logf("user sees: %v", err)
			})
		}
	})

	t.Run("LargeObjectStreamedWithBoundedMemory", func(t *testing.T) {
		testLargeObject(t, s, bucket)
	})

	t.Run("InterruptedUploadLeavesNoObject", func(t *testing.T) {
		pr, pw := io.Pipe()
		failure := errors.New("tar writer failed")
		go func() {
			_, _ = io.CopyN(pw, rand.NewChaCha8([32]byte{1}), interruptedAfter)
			pw.CloseWithError(failure)
		}()
		err := s.PutObject(ctx, bucket, "interrupted/b1.tar.gz", pr)
		if err == nil {
			t.Fatal("PutObject succeeded although its body failed")
		}
		if _, err := s.GetObject(ctx, bucket, "interrupted/b1.tar.gz"); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("after a failed upload GetObject = %v, want ErrNotFound (no partial object)", err)
		}
		checkList(t, "ListObjects(interrupted/)", nil, listed(s.ListObjects(ctx, bucket, "interrupted/")))
	})

	// Last: nothing works after it.
	t.Run("StorageStoppedMidUpload", func(t *testing.T) {
		testStopped(t, tg)
	})
}

// testLargeObject streams an object many parts long from a pipe, reads it
// back, and samples the heap throughout: the store must not hold the object.
func testLargeObject(t *testing.T, s objectstore.ObjectStore, bucket string) {
	ctx := context.Background()
	const key = "large/b1/b1.tar.gz"
	// Return freed memory to the OS first, so the RSS baseline is not
	// inflated by what earlier cases left in the runtime's free pages.
	debug.FreeOSMemory()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseRSS := residentSetSize()
	sampler := startHeapSampler()

	pr, pw := io.Pipe()
	sent := sha256.New()
	go func() {
		src := io.LimitReader(rand.NewChaCha8([32]byte{42}), largeObjectSize)
		_, err := io.Copy(io.MultiWriter(pw, sent), src)
		pw.CloseWithError(err)
	}()
	start := time.Now()
	if err := s.PutObject(ctx, bucket, key, pr); err != nil {
		pr.CloseWithError(err)
		t.Fatalf("PutObject of %d MiB from a pipe: %v", largeObjectSize>>20, err)
	}
	putTook := time.Since(start)

	start = time.Now()
	rc, err := s.GetObject(ctx, bucket, key)
	mustf(t, err, "GetObject")
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	mustf(t, err, "reading the object back")
	getTook := time.Since(start)
	peakHeap, peakRSS := sampler.stop()

	if n != largeObjectSize {
		t.Fatalf("read back %d bytes, want %d", n, largeObjectSize)
	}
	if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Fatal("object read back differs from what was written")
	}
	heapGrowth := int64(peakHeap) - int64(base.HeapAlloc)
	rssGrowth := int64(peakRSS) - int64(baseRSS)
	t.Logf("%d MiB object: put %v, get %v; heap %.1f -> peak %.1f MiB (growth %.1f MiB); RSS %.1f -> peak %.1f MiB (growth %.1f MiB); limit %d MiB",
		largeObjectSize>>20, putTook.Round(time.Millisecond), getTook.Round(time.Millisecond),
		mib(base.HeapAlloc), mib(peakHeap), float64(heapGrowth)/(1<<20),
		mib(baseRSS), mib(peakRSS), float64(rssGrowth)/(1<<20), maxHeapGrowth>>20)
	if heapGrowth > maxHeapGrowth {
		t.Errorf("heap grew by %.1f MiB while streaming a %d MiB object; the store buffers too much (limit %d MiB)",
			float64(heapGrowth)/(1<<20), largeObjectSize>>20, maxHeapGrowth>>20)
	}
	if baseRSS > 0 && rssGrowth > maxHeapGrowth {
		t.Errorf("resident memory grew by %.1f MiB while streaming a %d MiB object; the store buffers too much (limit %d MiB)",
			float64(rssGrowth)/(1<<20), largeObjectSize>>20, maxHeapGrowth>>20)
	}
	mustf(t, s.DeleteObject(ctx, bucket, key), "DeleteObject")
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

type heapSampler struct {
	done     chan struct{}
	wg       sync.WaitGroup
	peakHeap uint64
	peakRSS  uint64
}

// startHeapSampler records the largest HeapAlloc and resident set size seen
// until stop, every 20 ms (fine-grained next to a part upload). RSS matters
// too: azblob keeps its upload buffers in mmap'd memory outside the Go heap.
func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			h.peakHeap = max(h.peakHeap, ms.HeapAlloc)
			h.peakRSS = max(h.peakRSS, residentSetSize())
			select {
			case <-h.done:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() (heap, rss uint64) {
	close(h.done)
	h.wg.Wait()
	return h.peakHeap, h.peakRSS
}

// residentSetSize reads VmRSS from /proc/self/status (Linux), 0 elsewhere.
func residentSetSize() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// testStopped takes the storage away in the middle of an upload: the upload
// and every later call must fail with a clear error instead of hanging.
func testStopped(t *testing.T, tg target) {
	if tg.stop == nil {
		t.Skip("no server to stop")
	}
	ctx := context.Background()
	s, bucket := tg.store, tg.bucket

	pr, pw := io.Pipe()
	var stopOnce sync.Once
	go func() {
		// Stop the storage once some parts have gone out, then keep
		// feeding the upload until it gives up.
		src := rand.NewChaCha8([32]byte{7})
		buf := make([]byte, 1<<20)
		for written := 0; ; written += len(buf) {
			if written == 20<<20 {
				stopOnce.Do(tg.stop)
			}
			_, _ = src.Read(buf)
			if _, err := pw.Write(buf); err != nil {
				return
			}
			if written > 64<<20 {
				pw.Close()
				return
			}
		}
	}()
	err := withinHangGuard(t, "PutObject while the storage stops", func() error {
		return s.PutObject(ctx, bucket, "stopped/b1.tar.gz", pr)
	})
	pr.CloseWithError(errors.New("test over"))
	stopOnce.Do(tg.stop)
	if err == nil {
		t.Fatal("PutObject succeeded although the storage stopped mid-upload")
	}
	t.Logf("upload: %v", err)

	calls := map[string]func() error{
		"GetObject":   func() error { _, err := s.GetObject(ctx, bucket, "roundtrip/one.json"); return err },
		"ListObjects": func() error { _, err := s.ListObjects(ctx, bucket, ""); return err },
		"PutObject":   func() error { return s.PutObject(ctx, bucket, "stopped/small", strings.NewReader("x")) },
		"DeleteObject": func() error {
			return s.DeleteObject(ctx, bucket, "roundtrip/one.json")
		},
	}
	for name, call := range calls {
		err := withinHangGuard(t, name+" after the storage stopped", call)
		switch {
		case err == nil:
			t.Errorf("%s succeeded after the storage stopped", name)
		case !errors.Is(err, tg.stoppedErr):
			t.Errorf("%s after the storage stopped = %v, want an error wrapping %v", name, err, tg.stoppedErr)
		case !strings.Contains(err.Error(), tg.stoppedText):
			t.Errorf("%s after the storage stopped: %q does not name %q", name, err, tg.stoppedText)
		}
	}
}

// withinHangGuard runs call and fails the test if it has not returned after
// hangGuard. This catches hangs, not slowness: it is minutes above the
// seconds the bounded retries take.
func withinHangGuard(t *testing.T, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		t.Logf("%s returned after %v", what, time.Since(start).Round(time.Millisecond))
		return err
	case <-time.After(hangGuard):
		t.Fatalf("%s hung: no answer after %v", what, hangGuard)
		return nil
	}
}

type listResult struct {
	v   []string
	err error
}

func listed(v []string, err error) listResult { return listResult{v, err} }

func checkList(t *testing.T, what string, want []string, got listResult) {
	t.Helper()
	if got.err != nil {
		t.Fatalf("%s: %v", what, got.err)
	}
	g := slices.Clone(got.v)
	sort.Strings(g)
	w := slices.Clone(want)
	sort.Strings(w)
	if !slices.Equal(g, w) {
		if len(g) > 20 || len(w) > 20 {
			t.Fatalf("%s = %d entries, want %d", what, len(g), len(w))
		}
		t.Fatalf("%s = %q, want %q", what, g, w)
	}
}

func putBytes(t *testing.T, s objectstore.ObjectStore, bucket, key string, data []byte) {
	t.Helper()
	mustf(t, s.PutObject(context.Background(), bucket, key, bytes.NewReader(data)), "PutObject(%s)", key)
}

func getBytes(t *testing.T, s objectstore.ObjectStore, bucket, key string) []byte {
	t.Helper()
	rc, err := s.GetObject(context.Background(), bucket, key)
	mustf(t, err, "GetObject(%s)", key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	mustf(t, err, "reading %s", key)
	return b
}

func fetch(t *testing.T, c *http.Client, u string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	mustf(t, err, "GET %s", u)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	mustf(t, err, "reading GET %s", u)
	return resp.StatusCode, b
}

// tamperQuery changes one character of query parameter param of u.
func tamperQuery(t *testing.T, u, param string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	mustf(t, err, "parse signed URL")
	q := parsed.Query()
	v := q.Get(param)
	if v == "" {
		t.Fatalf("signed URL %s has no %s parameter", u, param)
	}
	flipped := []byte(v)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	q.Set(param, string(flipped))
	parsed.RawQuery = q.Encode()
	return parsed.String()
}
