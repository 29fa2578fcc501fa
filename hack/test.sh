#!/usr/bin/env bash
# The project's test command (make test): installs everything the tests need
# on a fresh machine (cached after the first run), then runs the unit,
# integration and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/install-deps.sh
# Tests never reach the cloud: keep the AWS SDK from probing the EC2 metadata
# endpoint when a test leaves it without credentials on purpose.
export AWS_EC2_METADATA_DISABLED=true
ARK_TESTBIN_DIR=$(hack/build-testbin.sh)
export ARK_TESTBIN_DIR
export ARK_MINIO=$ARK_TESTBIN_DIR/minio-$(sed -n 's/^MINIO_VERSION=${MINIO_VERSION:-\(.*\)}$/\1/p' hack/build-testbin.sh)/minio
eval "$(hack/install-emulators.sh)"
export ARK_FAKE_GCS_SERVER ARK_AZURITE
ARK_CONTROLLER_GEN=$(hack/controller-gen.sh --print-path)
export ARK_CONTROLLER_GEN
ARK_PROTOGEN=$(hack/genproto.sh --print-path)/genproto
export ARK_PROTOGEN

echo "test.sh: gofmt and go vet" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed on: $unformatted" >&2; exit 1; fi
go vet ./...

echo "test.sh: go test -race" >&2
# Everything runs with the race detector but the object-store conformance
# suite, which measures the memory a store uses while streaming 256 MiB: the
# detector's shadow memory would swamp that measure. The stores' own unit
# tests run with it.
race_pkgs=$(go list ./... | grep -v '/internal/objectstore/conformance$')
go test -race -count=1 -timeout 80m "$@" $race_pkgs
echo "test.sh: go test (object-store conformance, without the race detector)" >&2
go test -count=1 -timeout 20m "$@" ./internal/objectstore/conformance
