package e2e

// The emulators of the gcp and azure end-to-end tests are found as the
// conformance suite finds them (testproc.Require): from ARK_FAKE_GCS_SERVER
// and ARK_AZURITE, else in the test-binary cache that
// hack/install-emulators.sh fills. By hand:
//
//	hack/install-emulators.sh; go test -count=1 -run 'TestProvider' ./test/e2e/
