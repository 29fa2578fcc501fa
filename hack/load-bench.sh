#!/usr/bin/env bash
# The load benchmark: N ConfigMaps of 1 KiB in 10 namespaces, backed up and
# restored through the real ark server on the local cluster, next to plain
# baselines; then a fleet of backups due together (ARK_LOAD_BENCH_FLEET=S,K:
# S namespaces of K ConfigMaps, default 20,500) with --concurrent-backups 1
# and 4, and creates sent as JSON and as protobuf (ARK_LOAD_BENCH_PROTOBUF=N,
# default 10000; "0" or "" with ARK_LOAD_BENCH_EXTRAS=0 skips the extras).
# Usage: hack/load-bench.sh [N,N,...]   (default 1000,5000,20000)
set -euo pipefail
cd "$(dirname "$0")/.."
ARK_TESTBIN_DIR=$(hack/build-testbin.sh)
export ARK_TESTBIN_DIR
export ARK_LOAD_BENCH=${1:-${ARK_LOAD_BENCH:-1000,5000,20000}}
export ARK_LOAD_BENCH_REPORT=${ARK_LOAD_BENCH_REPORT:-$PWD/_output/load-bench.txt}
if [ "${ARK_LOAD_BENCH_EXTRAS:-1}" != 0 ]; then
  export ARK_LOAD_BENCH_FLEET=${ARK_LOAD_BENCH_FLEET:-20,500}
  export ARK_LOAD_BENCH_PROTOBUF=${ARK_LOAD_BENCH_PROTOBUF:-10000}
fi
mkdir -p _output
rm -f "$ARK_LOAD_BENCH_REPORT"
go test -count=1 -timeout 180m -run 'TestLoadBenchmark|TestFleetOfBackups|TestProtobufVsJSON' -v ./test/load/ | grep --line-buffered -v '^=== RUN'
echo "report: $ARK_LOAD_BENCH_REPORT"
