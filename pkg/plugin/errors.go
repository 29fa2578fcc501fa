package plugin

import (
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorDomain marks the reasons below in a status's ErrorInfo.
const errorDomain = "ark.heptio.com"

// sentinels are the errors that keep their identity across the protocol:
// a plugin's error wrapping one is, on the server, an error wrapping the
// same one, so Ark reacts to it as to a built-in provider's.
var sentinels = map[string]error{
	"OBJECT_NOT_FOUND":   ErrNotFound,
	"BUCKET_NOT_FOUND":   ErrBucketNotFound,
	"ACCESS_DENIED":      ErrAccessDenied,
	"UNREACHABLE":        ErrUnreachable,
	"VOLUME_NOT_FOUND":   ErrVolumeNotFound,
	"CREDENTIALS":        ErrCredentials,
	"INVALID_CONFIG":     ErrInvalidConfig,
	"ITEM_ACTION_FAILED": nil,
}

// toStatus is the plugin side: err as a gRPC status that carries the
// sentinel err wraps, if any.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	// Always Unknown, whatever the plugin's code said: other codes are
	// the transport's (Unavailable: the process died) and the SDK's own.
	st := status.New(codes.Unknown, err.Error())
	for reason, sentinel := range sentinels {
		if sentinel != nil && errors.Is(err, sentinel) {
			if withInfo, e := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain}); e == nil {
				st = withInfo
			}
			break
		}
	}
	return st.Err()
}

// remoteError is an error a plugin returned: its message, and the sentinel
// it wrapped on the plugin's side.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// fromStatus is the host side: the error a plugin returned, with its
// sentinel, or nil when err is not an error the plugin itself returned
// (the call failed on the way: the process died, the deadline passed).
func fromStatus(err error) *remoteError {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unknown {
		return nil
	}
	re := &remoteError{msg: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			re.sentinel = sentinels[info.Reason]
		}
	}
	return re
}

// panicError is what a panic in a plugin's code becomes: the error of the
// one call (or item) that panicked; the plugin process lives on.
func panicError(v any) error {
	return fmt.Errorf("panic: %v", v)
}
