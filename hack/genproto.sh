#!/usr/bin/env bash
# Regenerates the plugin protocol's Go code (pkg/plugin/internal/pb) from
# pkg/plugin/proto/*.proto, into the given output root (default: the
# repository), so a test can compare a fresh generation with what is checked
# in. There is no protoc here: hack/genproto compiles the .proto files in Go
# (protocompile) and runs the pinned protoc plugins, which this script
# installs once into the test-binary cache. With --print-path, only installs
# them and prints the directory that holds them.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO_VERSION=${PROTOC_GEN_GO_VERSION:-v1.36.12}
PROTOC_GEN_GO_GRPC_VERSION=${PROTOC_GEN_GO_GRPC_VERSION:-v1.6.1}
CACHE=${ARK_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ark-testbin}
dir=$CACHE/protogen-$PROTOC_GEN_GO_VERSION-$PROTOC_GEN_GO_GRPC_VERSION
if [ ! -x "$dir/protoc-gen-go" ] || [ ! -x "$dir/protoc-gen-go-grpc" ] || [ ! -x "$dir/genproto" ] || [ hack/genproto/main.go -nt "$dir/genproto" ]; then
  echo "genproto.sh: installing protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION and hack/genproto" >&2
  mkdir -p "$dir"
  GOFLAGS=-buildvcs=false GOBIN="$dir" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION" >&2
  GOFLAGS=-buildvcs=false GOBIN="$dir" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION" >&2
  (cd hack/genproto && GOFLAGS=-buildvcs=false go build -o "$dir/genproto" .) >&2
fi
if [ "${1:-}" = "--print-path" ]; then echo "$dir"; exit 0; fi
out=${1:-.}
"$dir/genproto" -I pkg/plugin/proto -out "$out" -module github.com/heptio/ark \
  -go "$dir/protoc-gen-go" -go-grpc "$dir/protoc-gen-go-grpc" plugin.proto
