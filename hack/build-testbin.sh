#!/usr/bin/env bash
# Builds the binaries of the local test cluster from the Go module proxy and
# caches them by version, so only the first run on a machine pays for it.
#
#   kube-apiserver, kube-controller-manager, kubectl  (k8s.io/kubernetes $KUBE_VERSION)
#   etcd                                                (go.etcd.io/etcd/server/v3 $ETCD_VERSION)
#   minio                                               (github.com/minio/minio $MINIO_VERSION)
#
# There is no Docker and no internet here, only the module proxy, so each is
# built from source in a throwaway module. Prints the cache directory.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
CACHE=${ARK_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ark-testbin}
export GOFLAGS=-buildvcs=false CGO_ENABLED=0

log() { echo "build-testbin: $*" >&2; }

kube_dir=$CACHE/kube-$KUBE_VERSION
etcd_dir=$CACHE/etcd-$ETCD_VERSION
minio_dir=$CACHE/minio-$MINIO_VERSION

# build_in_module DIR MODULE VERSION REPLACES PKG... : go build each PKG into DIR
build_in_module() {
  local out=$1 mod=$2 ver=$3 replaces=$4; shift 4
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  (
    cd "$work"
    go mod init ark.local/testbin >/dev/null 2>&1
    go mod edit -require="$mod@$ver"
    if [ -n "$replaces" ]; then
      while read -r r; do [ -n "$r" ] && go mod edit -replace="$r"; done <<<"$replaces"
    fi
    printf 'package main\nimport (\n' > tools.go
    for p in "$@"; do printf '\t_ "%s"\n' "$p" >> tools.go; done
    printf ')\nfunc main() {}\n' >> tools.go
    go mod tidy >/dev/null
    mkdir -p "$out.tmp"
    for p in "$@"; do
      log "go build $p"
      go build -trimpath -ldflags=-s -o "$out.tmp/" "$p"
    done
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

if [ ! -x "$kube_dir/kube-apiserver" ] || [ ! -x "$kube_dir/kube-controller-manager" ] || [ ! -x "$kube_dir/kubectl" ]; then
  log "building Kubernetes $KUBE_VERSION (about 10 minutes the first time)"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  staging_ver=v0${KUBE_VERSION#v1}
  # Every k8s.io/<repo> => ./staging/... becomes k8s.io/<repo> $staging_ver.
  replaces=$(awk '/=> \.\/staging\// {print $1"="$1"@'"$staging_ver"'"}' "$gomod")
  build_in_module "$kube_dir" k8s.io/kubernetes "$KUBE_VERSION" "$replaces" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
fi

if [ ! -x "$etcd_dir/etcd" ]; then
  log "building etcd $ETCD_VERSION (about 3 minutes the first time)"
  build_in_module "$etcd_dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" go.etcd.io/etcd/server/v3
  mv "$etcd_dir/server" "$etcd_dir/etcd"
fi

if [ ! -x "$minio_dir/minio" ]; then
  log "building MinIO (about 5 minutes the first time)"
  build_in_module "$minio_dir" github.com/minio/minio "$MINIO_VERSION" "" github.com/minio/minio
fi

echo "$CACHE"
