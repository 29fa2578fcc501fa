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
if [ $# -gt 0 ]; then
  # Flags given (-run, -short, ...): one go test over everything.
  go test -race -count=1 -timeout 80m "$@" $race_pkgs
  go test -count=1 -timeout 20m "$@" ./internal/objectstore/conformance
  exit 0
fi
go test -race -count=1 -timeout 80m $(echo "$race_pkgs" | grep -v '/test/e2e$')
echo "test.sh: go test (object-store conformance, without the race detector)" >&2
go test -count=1 -timeout 20m ./internal/objectstore/conformance

# The end-to-end tests each start their own cluster and spend most of their
# time waiting on it, so two shards at once finish well before one shard
# would, even on 2 cores. The tests are dealt round-robin from the list.
shards=${ARK_E2E_SHARDS:-2}
echo "test.sh: end-to-end tests (-race), $shards shards at once" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -race -o "$work/e2e.test" ./test/e2e
mapfile -t tests < <("$work/e2e.test" -test.list '.*' | grep '^Test' | sort)
pids=()
for ((i = 0; i < shards; i++)); do
  names=()
  for ((j = i; j < ${#tests[@]}; j += shards)); do names+=("${tests[j]}"); done
  [ ${#names[@]} -gt 0 ] || continue
  pattern="^($(IFS='|'; echo "${names[*]}"))\$"
  (cd test/e2e && "$work/e2e.test" -test.count=1 -test.timeout=80m -test.run "$pattern" >"$work/shard-$i.log" 2>&1) &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then status=ok; else status=FAIL; failed=1; fi
  echo "----- e2e shard $i: $status" >&2
  grep -E '^(--- |ok|FAIL|PASS|panic)' "$work/shard-$i.log" >&2 || true
  if [ "$status" = FAIL ]; then tail -n 300 "$work/shard-$i.log" >&2; fi
done
exit $failed
