// Package redact keeps credentials and URL signatures out of messages:
// errors, logs and what the CLI prints. A signed URL (an S3 presigned URL, a
// GCS signed URL, an Azure SAS) carries its signature in the query string,
// and a URL may carry a password in its user info, so every URL in a
// message loses both; a few well-known signature parameters are removed
// wherever they appear.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Marker replaces what was removed, so a reader knows something was there.
const Marker = "REDACTED"

// urlPattern finds URLs in free text. It stops at whitespace and at the
// quotes and brackets that messages put around URLs (net/http's errors
// quote them).
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// signatureParams are query parameters that hold a signature or a
// credential, found even outside a URL (a query string logged on its own).
var signatureParams = regexp.MustCompile(`(?i)\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|sig|Signature|AccountKey|SharedAccessSignature|access_token)=[^&\s"';]+`)

// credentialAssignments are credentials as files and environments spell
// them: an AWS credentials file's lines, Azure's variables, a GCP key's
// private key.
var credentialAssignments = regexp.MustCompile(`(?i)\b(aws_secret_access_key|aws_session_token|AZURE_CLIENT_SECRET|AZURE_STORAGE_KEY|AZURE_STORAGE_CONNECTION_STRING)(\s*=\s*)[^\s"';&]+|("private_key"\s*:\s*)"[^"]*"`)

// URL returns raw without its query string, fragment and user info. A
// string that does not parse as a URL is cut at its first "?" and "#", and
// its user info dropped as far as it can be found.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return cutURL(raw)
	}
	hadQuery := u.RawQuery != "" || u.ForceQuery || u.Fragment != ""
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	if u.User != nil {
		u.User = url.User(Marker)
	}
	out := u.String()
	if hadQuery {
		out += "?" + Marker
	}
	return out
}

func cutURL(raw string) string {
	out := raw
	hadQuery := false
	if i := strings.IndexAny(out, "?#"); i >= 0 {
		out, hadQuery = out[:i], true
	}
	if scheme, rest, ok := strings.Cut(out, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = Marker + "@" + host[at+1:]
		}
		out = scheme + "://" + host
		if path != "" || strings.Contains(rest, "/") {
			out += "/" + path
		}
	}
	if hadQuery {
		out += "?" + Marker
	}
	return out
}

// String redacts every URL in s, and every signature parameter left.
func String(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "=") && !strings.Contains(s, "private_key") {
		return s
	}
	s = urlPattern.ReplaceAllStringFunc(s, URL)
	s = signatureParams.ReplaceAllStringFunc(s, func(m string) string {
		name, _, _ := strings.Cut(m, "=")
		return name + "=" + Marker
	})
	return credentialAssignments.ReplaceAllStringFunc(s, func(m string) string {
		sub := credentialAssignments.FindStringSubmatch(m)
		if sub[3] != "" {
			return sub[3] + `"` + Marker + `"`
		}
		return sub[1] + sub[2] + Marker
	})
}

// Error returns err with a redacted message. errors.Is and errors.As see
// through it to err, so callers can still tell errors apart. nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := String(msg); red != msg {
		return &redacted{msg: red, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
