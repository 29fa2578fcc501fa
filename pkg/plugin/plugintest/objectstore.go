package plugintest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heptio/ark/pkg/plugin"
)

// CheckObjectStore holds store to the ObjectStore contract Ark relies on,
// in bucket (which must exist and be empty): objects stream in and out
// whole (one larger than a protocol message too), listings by prefix and
// by common prefix, overwrite, delete (twice), the ErrNotFound sentinel
// for a missing object, and a signed URL.
func CheckObjectStore(t *testing.T, store plugin.ObjectStore, bucket string) {
	t.Helper()
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB: several stream messages
	objects := map[string][]byte{
		"b1/ark-backup.json": []byte(`{"kind":"Backup"}`),
		"b1/b1.tar.gz":       big,
		"b2/ark-backup.json": []byte(`{}`),
		"top":                []byte("top"),
	}
	for key, data := range objects {
		if err := store.PutObject(ctx, bucket, key, bytes.NewReader(data)); err != nil {
			t.Fatalf("PutObject(%s): %v", key, err)
		}
	}
	for key, data := range objects {
		if got := get(t, store, bucket, key); !bytes.Equal(got, data) {
			t.Errorf("GetObject(%s) returned %d bytes that differ from the %d put", key, len(got), len(data))
		}
	}
	if err := store.PutObject(ctx, bucket, "top", strings.NewReader("replaced")); err != nil {
		t.Fatalf("PutObject over an existing key: %v", err)
	}
	if got := get(t, store, bucket, "top"); string(got) != "replaced" {
		t.Errorf("after an overwrite GetObject(top) = %q, want %q", got, "replaced")
	}
	prefixes, err := store.ListCommonPrefixes(ctx, bucket, "", "/")
	if err != nil {
		t.Fatalf("ListCommonPrefixes: %v", err)
	}
	slices.Sort(prefixes)
	if want := []string{"b1/", "b2/"}; !slices.Equal(prefixes, want) {
		t.Errorf("ListCommonPrefixes(\"\", \"/\") = %q, want %q", prefixes, want)
	}
	keys, err := store.ListObjects(ctx, bucket, "b1/")
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	slices.Sort(keys)
	if want := []string{"b1/ark-backup.json", "b1/b1.tar.gz"}; !slices.Equal(keys, want) {
		t.Errorf("ListObjects(b1/) = %q, want %q", keys, want)
	}
	if _, err := store.GetObject(ctx, bucket, "missing"); !errors.Is(err, plugin.ErrNotFound) {
		t.Errorf("GetObject(missing) = %v, want an error wrapping plugin.ErrNotFound", err)
	}
	url, err := store.CreateSignedURL(ctx, bucket, "top", time.Minute)
	if err != nil || url == "" {
		t.Errorf("CreateSignedURL = %q, %v; want a URL", url, err)
	}
	for key := range objects {
		for range 2 { // deleting a missing key is not an error
			if err := store.DeleteObject(ctx, bucket, key); err != nil {
				t.Fatalf("DeleteObject(%s): %v", key, err)
			}
		}
	}
	if keys, err := store.ListObjects(ctx, bucket, ""); err != nil || len(keys) != 0 {
		t.Errorf("after deleting everything ListObjects = %q, %v; want none", keys, err)
	}
}

func get(t *testing.T, store plugin.ObjectStore, bucket, key string) []byte {
	t.Helper()
	rc, err := store.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return data
}
