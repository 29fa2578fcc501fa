// Package conformance holds TestConformance, which runs one behavioural suite
// against every ObjectStore provider on a real server: aws on MinIO, gcp on
// fake-gcs-server, azure on Azurite, and the filesystem store on a temporary
// directory. The test starts each server itself on free loopback ports and
// stops it by PID when the test ends, pass or fail.
//
// The servers are found through environment variables, which `make test`
// sets (MinIO from hack/build-testbin.sh, the emulators from
// hack/install-emulators.sh):
//
//	ARK_MINIO            path of the minio binary
//	ARK_FAKE_GCS_SERVER  path of the fake-gcs-server binary (v1.56.1)
//	ARK_AZURITE          path of azurite-blob (npm azurite 3.35.0; needs node on PATH)
//
// A store whose variable is unset is skipped with a message saying how to
// run it; a variable that names a missing file fails the test.
//
// By hand:
//
//	eval "$(hack/install-emulators.sh)"; export ARK_FAKE_GCS_SERVER ARK_AZURITE
//	export ARK_MINIO=$(hack/build-testbin.sh)/minio-v0.0.0-20260212201848-7aac2a2c5b7c/minio
//	go test ./internal/objectstore/conformance/ -run TestConformance -v
package conformance
