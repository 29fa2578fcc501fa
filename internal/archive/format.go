package archive

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Format says which layout of Ark's lineage an archive has, as far as the
// archive itself tells. They share the item layout
// (resources/<resource>[.<group>]/{namespaces/<ns>,cluster}/<name>.json) and
// differ in their metadata:
//
//   - Heptio Ark v0.7–v0.9: no metadata/version, no index.
//   - Heptio Ark v0.10–v0.11 and Velero before 1.4: metadata/version "1", no
//     index.
//   - Velero 1.4 and later: metadata/version "1.1.0", every item twice (the
//     unversioned copy and "<version>-preferredversion/"), and with API group
//     versions enabled also under other "<version>/" directories.
//   - Ark (this one): metadata/version "1" and metadata/index.json last,
//     names encoded (see names.go), and version directories as Velero's
//     when the backup wrote every served version.
type Format struct {
	// Origin names what wrote the archive, for messages.
	Origin string
	// Version is the content of metadata/version; "" when there is none.
	Version string
	// Indexed is true when metadata/index.json was read and every entry
	// matched its recorded size and SHA-256.
	Indexed bool
}

// Origins an archive can be recognised as.
const (
	OriginArk        = "Ark"
	OriginHeptioArk7 = "Heptio Ark v0.7–v0.9"
	OriginArkOrOlder = "Heptio Ark v0.10–v0.11 or Velero 1.0–1.3"
	OriginVelero     = "Velero 1.4 or later"
)

// Unverified says, for an archive without an index, what a restore could and
// could not check; "" when every entry was verified.
func (f Format) Unverified() string {
	if f.Indexed {
		return ""
	}
	return fmt.Sprintf("the archive was written by %s without an index, so only its structure was checked, not each item's content", f.Origin)
}

// semverMajor1 matches the format versions Velero writes ("1.1.0"): the
// major version 1 is the layout this reader knows.
var (
	semverMajor1 = regexp.MustCompile(`^1\.[0-9]{1,9}\.[0-9]{1,9}$`)
	versionLike  = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,9}){1,2}$`)
)

// formatOfVersion interprets the content of metadata/version.
func formatOfVersion(content []byte) (Format, error) {
	text := strings.TrimSpace(string(content))
	if v, err := strconv.Atoi(text); err == nil {
		if v != FormatVersion {
			return Format{}, invalid(versionEntry, "format version %d is not supported: this Ark reads format version %d (and Velero's 1.x.y); use the release that wrote the backup", v, FormatVersion)
		}
		// Ark's own when the index turns up at the end.
		return Format{Origin: OriginArkOrOlder, Version: text}, nil
	}
	if semverMajor1.MatchString(text) {
		return Format{Origin: OriginVelero, Version: text}, nil
	}
	if versionLike.MatchString(text) {
		return Format{}, invalid(versionEntry, "format version %q is not supported: this Ark reads format version %d and Velero's 1.x.y; use the release that wrote the backup", text, FormatVersion)
	}
	return Format{}, invalid(versionEntry, "content %q is not a format version number", text)
}
