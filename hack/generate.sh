#!/usr/bin/env bash
# Regenerates deepcopy code and CRD manifests from api/v1 into the given
# output root (default: the repository), so a test can compare a fresh
# generation with what is checked in.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.}
cg=$(hack/controller-gen.sh --print-path)
mkdir -p "$out/api/v1" "$out/config/crd"
"$cg" object paths=./api/... output:object:dir="$out/api/v1"
"$cg" crd paths=./api/... output:crd:artifacts:config="$out/config/crd"
