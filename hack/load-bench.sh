#!/usr/bin/env bash
# The load benchmark: N ConfigMaps of 1 KiB in 10 namespaces, backed up and
# restored through the real ark server on the local cluster, next to plain
# baselines. Usage: hack/load-bench.sh [N,N,...]   (default 1000,5000,20000)
set -euo pipefail
cd "$(dirname "$0")/.."
ARK_TESTBIN_DIR=$(hack/build-testbin.sh)
export ARK_TESTBIN_DIR
export ARK_LOAD_BENCH=${1:-${ARK_LOAD_BENCH:-1000,5000,20000}}
export ARK_LOAD_BENCH_REPORT=${ARK_LOAD_BENCH_REPORT:-$PWD/_output/load-bench.txt}
mkdir -p _output
go test -count=1 -timeout 90m -run TestLoadBenchmark -v ./test/load/ | grep -v '^=== RUN'
echo "report: $ARK_LOAD_BENCH_REPORT"
