package e2e

// The emulators of the gcp and azure end-to-end tests, found the way the
// conformance suite finds them: `make test` sets these variables from
// hack/install-emulators.sh. By hand:
//
//	eval "$(hack/install-emulators.sh)"; export ARK_FAKE_GCS_SERVER ARK_AZURITE
//	ARK_TESTBIN_DIR=$HOME/.cache/ark-testbin go test -count=1 -run 'TestProvider' ./test/e2e/
const (
	providerFakeGCSEnv   = "ARK_FAKE_GCS_SERVER"
	providerAzuriteEnv   = "ARK_AZURITE"
	providerEmulatorHint = "run `make test`, or eval \"$(hack/install-emulators.sh)\" and export ARK_FAKE_GCS_SERVER ARK_AZURITE"
)
