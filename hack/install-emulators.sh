#!/usr/bin/env bash
# Installs the object-storage emulators the conformance tests run against
# (internal/objectstore/conformance) into the test-binary cache, once per
# version, and prints one VAR=path line per emulator on stdout:
#
#   ARK_FAKE_GCS_SERVER=<cache>/fake-gcs-server-v1.56.1/fake-gcs-server   (Google Cloud Storage)
#   ARK_AZURITE=<cache>/azurite-3.35.0/node_modules/.bin/azurite-blob     (Azure Blob)
#
# MinIO (S3) is built by hack/build-testbin.sh into the same cache.
# Usable from make as:  $(shell hack/install-emulators.sh)  or  eval "$(hack/install-emulators.sh)".
# Progress goes to stderr so stdout stays machine-readable.
set -euo pipefail

FAKE_GCS_VERSION=${FAKE_GCS_VERSION:-v1.56.1}
# Azurite 3.36+ needs Node >= 21; the build machines run Node 20.
AZURITE_VERSION=${AZURITE_VERSION:-3.35.0}
CACHE=${ARK_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ark-testbin}

log() { echo "install-emulators: $*" >&2; }

mkdir -p "$CACHE"

fgcs_dir=$CACHE/fake-gcs-server-$FAKE_GCS_VERSION
fgcs=$fgcs_dir/fake-gcs-server
if [ ! -x "$fgcs" ]; then
  log "building fake-gcs-server $FAKE_GCS_VERSION (about 3 minutes the first time)"
  # Build into a scratch dir and move into place, so an interrupted build never
  # leaves a half-written binary that the next run would trust.
  work=$(mktemp -d "$CACHE/.fake-gcs-server.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$work" \
    go install -trimpath -ldflags=-s "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION" >&2
  mkdir -p "$fgcs_dir"
  mv "$work/fake-gcs-server" "$fgcs"
  rm -rf "$work"
  trap - EXIT
fi

azurite_dir=$CACHE/azurite-$AZURITE_VERSION
azurite=$azurite_dir/node_modules/.bin/azurite-blob
if [ ! -x "$azurite" ]; then
  command -v npm >/dev/null || { log "npm not found: install Node.js 20 and npm (apt-get install nodejs npm)"; exit 1; }
  log "installing azurite@$AZURITE_VERSION with npm (about 1 minute the first time)"
  work=$(mktemp -d "$CACHE/.azurite.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    # A fixed package.json instead of `npm init`, which rejects the dotted scratch dir name.
    echo '{"name":"ark-azurite","private":true}' > package.json
    npm install --no-audit --no-fund --save-exact "azurite@$AZURITE_VERSION" >&2
  )
  rm -rf "$azurite_dir"
  # node_modules/.bin holds relative symlinks, so the tree survives the move.
  mv "$work" "$azurite_dir"
  trap - EXIT
fi

echo "ARK_FAKE_GCS_SERVER=$fgcs"
echo "ARK_AZURITE=$azurite"
