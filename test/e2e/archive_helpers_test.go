package e2e

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"testing"
)

// tarEntries reads a downloaded backup archive into path -> content and
// checks its index: every resource entry listed with its true SHA-256 and
// size, nothing more, nothing less.
func tarEntries(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	entries := map[string][]byte{}
	var order []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name] = data
		order = append(order, hdr.Name)
	}
	if len(order) < 2 || order[0] != "metadata/version" || order[len(order)-1] != "metadata/index.json" {
		t.Fatalf("archive must start with metadata/version and end with metadata/index.json, got %v", order)
	}
	if string(entries["metadata/version"]) != "1" {
		t.Fatalf("metadata/version = %q, want 1", entries["metadata/version"])
	}
	var index struct {
		FormatVersion int `json:"formatVersion"`
		Items         []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"items"`
	}
	if err := json.Unmarshal(entries["metadata/index.json"], &index); err != nil {
		t.Fatalf("index: %v", err)
	}
	if index.FormatVersion != 1 {
		t.Fatalf("index formatVersion = %d", index.FormatVersion)
	}
	if len(index.Items) != len(entries)-2 {
		t.Fatalf("index lists %d items, archive has %d resource entries", len(index.Items), len(entries)-2)
	}
	for _, it := range index.Items {
		data, ok := entries[it.Path]
		if !ok {
			t.Fatalf("index lists %s, which the archive lacks", it.Path)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != it.SHA256 || int64(len(data)) != it.Size {
			t.Fatalf("index entry of %s does not match its content", it.Path)
		}
	}
	return entries
}

// fileSHA256 returns the hex SHA-256 and size of a file.
func fileSHA256(t *testing.T, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
