#!/usr/bin/env bash
# make quickstart: builds a local cluster (etcd, kube-apiserver,
# kube-controller-manager, a node that runs pods as local processes, MinIO)
# and runs the docs' basic example on it with the real ark binary, printing
# each command and what came of it.
#   hack/quickstart.sh        start (a fresh cluster each time) and run the example
#   hack/quickstart.sh down   stop the server and the cluster
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QS=${ARK_QUICKSTART_DIR:-$ROOT/_output/quickstart}

bold() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '\033[36m$ %s\033[0m\n' "$*"; "$@"; }
fail() { printf '\n\033[31mQUICKSTART FAILED: %s\033[0m\n' "$*" >&2; exit 1; }

stop_all() {
  if [ -f "$QS/ark-server.pid" ]; then
    pid=$(cat "$QS/ark-server.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL "$pid" 2>/dev/null || true
      echo "ark server (pid $pid) stopped"
    fi
    rm -f "$QS/ark-server.pid"
  fi
  if [ -d "$QS/cluster" ]; then
    go run ./hack/localcluster down --dir "$QS/cluster" || true
  fi
}

if [ "${1:-}" = "down" ]; then
  stop_all
  exit 0
fi

hack/install-deps.sh
bold "Building the local cluster's binaries (cached after the first run: ~15-20 minutes the first time)"
ARK_TESTBIN_DIR=$(hack/build-testbin.sh)
export ARK_TESTBIN_DIR
[ -x _output/bin/ark ] || make build

# A fresh cluster each time, so the example runs from a known state.
stop_all
rm -rf "$QS"
mkdir -p "$QS/bin"
ln -s "$ROOT/_output/bin/ark" "$QS/bin/ark"
ln -s "$ARK_TESTBIN_DIR/kube-v1.34.4/kubectl" "$QS/bin/kubectl"
export PATH="$QS/bin:$PATH"

bold "Starting a local cluster with a node, MinIO (a real S3 server) and a bucket named ark"
go run ./hack/localcluster up --dir "$QS/cluster" --minio --bucket ark
# shellcheck disable=SC1091
. "$QS/cluster/env.sh"   # KUBECONFIG, MINIO_ENDPOINT, MINIO_CREDENTIALS_FILE
cp "$MINIO_CREDENTIALS_FILE" "$QS/credentials-ark"

bold "Installing Ark: namespace, RBAC and CRDs, the credentials secret, the Config"
run kubectl apply -f examples/common/00-prereqs.yaml
run kubectl wait --for condition=established --timeout=60s crd/backups.ark.heptio.com crd/configs.ark.heptio.com crd/restores.ark.heptio.com
(cd "$QS" && run kubectl create secret generic cloud-credentials --namespace heptio-ark --from-file cloud=credentials-ark)
echo "(examples/minio/10-ark-config.yaml with s3Url pointed at the local MinIO, $MINIO_ENDPOINT)"
sed "s#http://minio.heptio-ark.svc:9000#$MINIO_ENDPOINT#" examples/minio/10-ark-config.yaml > "$QS/10-ark-config.yaml"
run kubectl apply -f "$QS/10-ark-config.yaml"

bold "Starting the Ark server"
echo "The cluster's node runs no container images, so instead of examples/common/10-deployment.yaml"
echo "the server runs beside it, with the credentials file the Deployment would mount at /credentials/cloud:"
printf '\033[36m$ AWS_SHARED_CREDENTIALS_FILE=%s ark server --namespace heptio-ark &\033[0m\n' "$QS/credentials-ark"
AWS_SHARED_CREDENTIALS_FILE="$QS/credentials-ark" AWS_EC2_METADATA_DISABLED=true \
  nohup ark server --namespace heptio-ark --metrics-address 127.0.0.1:0 --health-address 127.0.0.1:0 \
  >"$QS/ark-server.log" 2>&1 &
echo $! > "$QS/ark-server.pid"
sleep 2
kill -0 "$(cat "$QS/ark-server.pid")" 2>/dev/null || { tail -20 "$QS/ark-server.log"; fail "the ark server exited; its log is above"; }
echo "server log: $QS/ark-server.log"

bold "Basic example: start the sample nginx app"
run kubectl apply -f examples/nginx-app/base.yaml
echo "(the node runs each pod as a local process; nginx's image is not pulled, an idle process stands in)"
run kubectl -n nginx-example rollout status deployment/nginx-deployment --timeout=120s || fail "the nginx pods did not start (kubectl -n nginx-example describe pods; $QS/cluster/logs/node.log)"
run kubectl -n nginx-example get pods -o wide

bold "Create a backup"
run ark backup create nginx-backup --selector app=nginx --wait || fail "the backup did not complete (ark backup describe nginx-backup; $QS/ark-server.log)"
run ark backup get

bold "Simulate a disaster"
run kubectl delete namespaces nginx-example
kubectl get namespace nginx-example >/dev/null 2>&1 && fail "namespace nginx-example still exists"
echo "namespace nginx-example is gone"

bold "Restore your lost resources"
run ark restore create nginx-backup --wait || fail "the restore did not complete (ark restore describe; $QS/ark-server.log)"

bold "Checking that everything came back"
run kubectl get namespace nginx-example --show-labels
run kubectl -n nginx-example get deployment/nginx-deployment service/my-nginx
[ "$(kubectl get namespace nginx-example -o jsonpath='{.metadata.labels.app}')" = nginx ] || fail "namespace label app=nginx not restored"
[ "$(kubectl -n nginx-example get deployment nginx-deployment -o jsonpath='{.spec.replicas}/{.spec.template.spec.containers[0].image}')" = "2/nginx:1.7.9" ] \
  || fail "the deployment did not come back as it was"
[ "$(kubectl -n nginx-example get service my-nginx -o jsonpath='{.spec.type}/{.spec.ports[0].port}')" = "LoadBalancer/80" ] \
  || fail "the service did not come back as it was"
restore=$(kubectl -n nginx-example get deployment nginx-deployment -o jsonpath='{.metadata.labels.ark-restore}')
[ -n "$restore" ] || fail "restored objects lack the ark-restore label"
run kubectl -n nginx-example rollout status deployment/nginx-deployment --timeout=120s || fail "the restored deployment's pods did not start ($QS/cluster/logs/node.log)"
run kubectl -n nginx-example get pods -o wide
echo "namespace, deployment and service are back, and the deployment's pods run (restore $restore)"

bold "Quickstart done: the backup and the restore worked"
cat <<EOF2
The cluster and the Ark server are still running. To use them:

  export KUBECONFIG=$KUBECONFIG PATH=$QS/bin:\$PATH
  ark backup get
  ark restore get
  ark backup describe nginx-backup
  ark backup logs nginx-backup

  kubectl -n nginx-example exec deploy/nginx-deployment -- sh -c 'echo hello from \$HOSTNAME'

Server log: $QS/ark-server.log      Cluster logs: $QS/cluster/logs
Stop everything with:  make quickstart-down
EOF2
