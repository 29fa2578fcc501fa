#!/usr/bin/env bash
# Runs controller-gen (built once from the Go module proxy into the test-binary
# cache). With --print-path, only builds it and prints its path.
set -euo pipefail
VERSION=${CONTROLLER_GEN_VERSION:-v0.19.0}
CACHE=${ARK_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ark-testbin}
bin=$CACHE/controller-gen-$VERSION/controller-gen
if [ ! -x "$bin" ]; then
  echo "controller-gen.sh: building controller-gen $VERSION (about 2 minutes the first time)" >&2
  GOFLAGS=-buildvcs=false GOBIN="$CACHE/controller-gen-$VERSION" \
    go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$VERSION" >&2
fi
if [ "${1:-}" = "--print-path" ]; then echo "$bin"; exit 0; fi
exec "$bin" "$@"
