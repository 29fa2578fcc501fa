package archive

// IndexEntry records one resource entry of the archive.
type IndexEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"` // lowercase hex of the entry's uncompressed bytes
	Size   int64  `json:"size"`
}

// Index is the content of metadata/index.json, the last entry of an archive.
type Index struct {
	FormatVersion int          `json:"formatVersion"`
	Items         []IndexEntry `json:"items"`
}

// indexBytesPerEntry bounds the encoded size of one IndexEntry beyond its
// path: the keys, a 64-digit digest, a size and separators. Paths count six
// times over because encoding/json may escape a character as \u00XX.
const (
	indexBytesPerEntry = 160
	indexBytesFixed    = 1024
)

func indexSizeBound(pathLen int) int64 {
	return int64(6*pathLen + indexBytesPerEntry)
}
