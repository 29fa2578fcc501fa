// Package unreachable recognises errors that mean "the object storage
// endpoint could not be reached at all", as opposed to errors the service
// answered with, so each provider can name the endpoint and point at the
// config key that sets it instead of surfacing a bare "connection refused".
package unreachable

import (
	"context"
	"errors"
	"net"
	"net/url"
	"syscall"
)

// Endpoint reports whether err is a network failure to reach a server and,
// if so, the scheme://host of the request that failed (never its path or
// query: a presigned query string must not end up in logs).
func Endpoint(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		return "", false
	}
	// The caller's own deadline or cancellation is not the server's fault.
	if errors.Is(urlErr.Err, context.Canceled) || errors.Is(urlErr.Err, context.DeadlineExceeded) {
		return "", false
	}
	if !isNetworkFailure(urlErr.Err) {
		return "", false
	}
	u, perr := url.Parse(urlErr.URL)
	if perr != nil || u.Host == "" {
		return urlErr.URL, true
	}
	return u.Scheme + "://" + u.Host, true
}

func isNetworkFailure(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	}
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
}
