package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Object names are stored in entry names in an encoded form, so that every
// name the API server accepts is storable and every entry name is safe as a
// relative file path. RBAC objects, for one, accept any path segment: a
// backslash, a tab, a newline, or ten thousand bytes.
//
// Inline form: the name with '%' followed by two uppercase hex digits in place
// of each byte of: '%', '/', '\', a control character (C0, DEL, C1), or a
// byte that is not part of valid UTF-8. The names "." and ".." have their dots
// escaped ("%2E", "%2E%2E"). Every other byte is kept, so the names Kubernetes
// usually has (DNS subdomains, "system:controller:job-controller", Unicode)
// read as they are. Kubernetes forbids '%' in every object name, so archives
// written before this encoding existed decode to exactly their names.
//
// Long form, when "<inline>.json" would exceed maxFileNameLen: the first
// bytes of the inline form (at most longNamePrefixLen, cut between runes and
// escapes), "%%", and the lowercase hex SHA-256 of the name. The inline form
// never contains "%%", so the two cannot be confused. The name itself is read
// from the object's metadata.name and must hash to the digest.
//
// Each name has exactly one encoding (the canonical one above); a reader
// refuses any other, so two entries can never decode to the same object.
const (
	// maxFileNameLen is NAME_MAX of common file systems: every path
	// component the encoding produces fits in it.
	maxFileNameLen = 255
	// longNamePrefixLen bounds the readable prefix of the long form.
	longNamePrefixLen = 128
	longNameMarker    = "%%"
	// maxNameLen bounds an object name. Names of resources validated as path
	// segments have no limit of their own; etcd's default request limit
	// (1.5 MiB) is what bounds them in practice.
	maxNameLen = 2 << 20
)

const upperHex = "0123456789ABCDEF"

// encodeName returns the inline form of name (without the ".json"
// extension).
func encodeName(name string) string {
	if name == "." || name == ".." {
		return strings.Repeat("%2E", len(name))
	}
	if !needsEscape(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		escape := r == '%' || r == '/' || r == '\\' || unicode.IsControl(r) || r == utf8.RuneError && size <= 1
		for j := i; j < i+size; j++ {
			if escape {
				c := name[j]
				b.WriteByte('%')
				b.WriteByte(upperHex[c>>4])
				b.WriteByte(upperHex[c&0xf])
			} else {
				b.WriteByte(name[j])
			}
		}
		i += size
	}
	return b.String()
}

func needsEscape(name string) bool {
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == '%' || r == '/' || r == '\\' || unicode.IsControl(r) || r == utf8.RuneError && size <= 1 {
			return true
		}
		i += size
	}
	return false
}

// fileName is the path component (".json" included) that stores name.
func fileName(name string) string {
	enc := encodeName(name)
	if len(enc)+len(itemExtension) <= maxFileNameLen {
		return enc + itemExtension
	}
	sum := sha256.Sum256([]byte(name))
	return longNamePrefix(enc) + longNameMarker + hex.EncodeToString(sum[:]) + itemExtension
}

// longNamePrefix cuts an inline form to at most longNamePrefixLen bytes
// without splitting a rune or an escape.
func longNamePrefix(enc string) string {
	cut := 0
	for i := 0; i < len(enc); {
		size := 3
		if enc[i] != '%' {
			_, size = utf8.DecodeRuneInString(enc[i:])
		}
		if i+size > longNamePrefixLen {
			break
		}
		i += size
		cut = i
	}
	return enc[:cut]
}

// storedName is a decoded path component: the name, or for the long form
// the SHA-256 the name must have (Name is then empty until resolved from the
// object).
type storedName struct {
	Name     string
	LongHash string // lowercase hex; set only for the long form
	file     string // the component as found, to check the resolved name against
}

// parseFileName decodes a path component of an item (".json" included). It
// accepts only the canonical encoding.
func parseFileName(file string) (storedName, error) {
	base, ok := strings.CutSuffix(file, itemExtension)
	if !ok {
		return storedName{}, fmt.Errorf("an item's file name must end in %s", itemExtension)
	}
	if base == "" {
		return storedName{}, fmt.Errorf("empty name")
	}
	if i := strings.Index(base, longNameMarker); i >= 0 {
		hash := base[i+len(longNameMarker):]
		if len(hash) != 2*sha256.Size || strings.ToLower(hash) != hash || !isHex(hash) {
			return storedName{}, fmt.Errorf("%q is not a long-name form (<prefix>%%%%<sha256 in lowercase hex>)", file)
		}
		return storedName{LongHash: hash, file: file}, nil
	}
	if !strings.Contains(base, "%") {
		// The name as it is. That is the canonical form of most names, and
		// how Ark stored long names before the long form existed (up to 1024
		// bytes) and how other tools store every name. Kubernetes forbids '%'
		// in names, so no such name is ever misread as encoded.
		if len(base)+len(itemExtension) <= maxFileNameLen && fileName(base) != file {
			return storedName{}, fmt.Errorf("%q is not the canonical encoding of the name %q (expected %q)", file, base, fileName(base))
		}
		return storedName{Name: base, file: file}, nil
	}
	name, err := decodeName(base)
	if err != nil {
		return storedName{}, err
	}
	if fileName(name) != file {
		return storedName{}, fmt.Errorf("%q is not the canonical encoding of the name %q (expected %q)", file, name, fileName(name))
	}
	return storedName{Name: name, file: file}, nil
}

// resolve sets the name of a long form from the object's metadata.name and
// checks that it is the name the component stands for.
func (s *storedName) resolve(name string) error {
	if s.LongHash == "" {
		return nil
	}
	if name == "" {
		return fmt.Errorf("the entry stores a long name, but its object has no metadata.name")
	}
	if fileName(name) != s.file {
		return fmt.Errorf("the object's metadata.name (%d bytes) is not the long name this entry's path stands for", len(name))
	}
	s.Name, s.LongHash = name, ""
	return nil
}

func decodeName(enc string) (string, error) {
	if !strings.Contains(enc, "%") {
		return enc, nil
	}
	out := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(enc) || !isUpperHexDigit(enc[i+1]) || !isUpperHexDigit(enc[i+2]) {
			return "", fmt.Errorf("%q has a %% not followed by two uppercase hex digits", enc)
		}
		out = append(out, unhex(enc[i+1])<<4|unhex(enc[i+2]))
		i += 2
	}
	return string(out), nil
}

func isUpperHexDigit(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
