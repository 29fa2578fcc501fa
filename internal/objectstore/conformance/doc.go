// Package conformance holds TestConformance, which runs one behavioural suite
// against every ObjectStore provider on a real server: aws on MinIO, gcp on
// fake-gcs-server, azure on Azurite, and the filesystem store on a temporary
// directory. The test starts each server itself on free loopback ports and
// stops it by PID when the test ends, pass or fail.
//
// The servers are found by testproc.Require: from these environment
// variables, else in the test-binary cache (~/.cache/ark-testbin, or
// $ARK_TESTBIN_DIR) that hack/build-testbin.sh (MinIO) and
// hack/install-emulators.sh (the emulators) fill:
//
//	ARK_MINIO            path of the minio binary
//	ARK_FAKE_GCS_SERVER  path of the fake-gcs-server binary (v1.56.1)
//	ARK_AZURITE          path of azurite-blob (npm azurite 3.35.0; needs node on PATH)
//
// A server found in neither place fails the test with the command that
// installs it (a -short run skips it instead): the suite never reports PASS
// without having run against the real servers.
//
// By hand:
//
//	hack/build-testbin.sh; hack/install-emulators.sh
//	go test ./internal/objectstore/conformance/ -run TestConformance -v
package conformance
