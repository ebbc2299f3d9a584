#!/usr/bin/env bash
# Kafka, PostgreSQL and MinIO for the distributed mode and the integration tests.
#
#   deploy/local/infra.sh up     start all three (in parallel), wait, write $EARSHOT_INFRA_DIR/env
#   deploy/local/infra.sh down   stop all three
#   deploy/local/infra.sh env    print `export ...` lines for the test and service variables
#   deploy/local/infra.sh tools  install kcat (apt), kustomize and kube-score (go install), for the tests
#
# Idempotent: servers already running are reused; downloads and builds are cached in
# $EARSHOT_CACHE. `make infra-up` / `make infra-down` call this script.
source "$(dirname "$0")/common.sh"

ENV_FILE="$EARSHOT_INFRA_DIR/env"
KUBE_SCORE_VERSION=${KUBE_SCORE_VERSION:-v1.20.0}

tools() {
  command -v kcat >/dev/null || apt_install kcat
  if [ ! -x "$GOBIN/kustomize-$KUSTOMIZE_VERSION" ]; then
    log "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && GOBIN="$tmp" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION") >&2
    mv "$tmp/kustomize" "$GOBIN/kustomize-$KUSTOMIZE_VERSION"; rm -rf "$tmp"
  fi
  if [ ! -x "$GOBIN/kube-score-$KUBE_SCORE_VERSION" ]; then
    log "go install github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
    local tmp2; tmp2=$(mktemp -d)
    (cd "$tmp2" && GOBIN="$tmp2" go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION") >&2
    mv "$tmp2/kube-score" "$GOBIN/kube-score-$KUBE_SCORE_VERSION"; rm -rf "$tmp2"
  fi
  echo "$GOBIN/kube-score-$KUBE_SCORE_VERSION"
  echo "$GOBIN/kustomize-$KUSTOMIZE_VERSION"
}

write_env() {
  local kafka="127.0.0.1:$KAFKA_PORT" db s3
  db=$("$LOCAL_DIR/postgres.sh" url)
  s3=$("$LOCAL_DIR/minio.sh" url earshot)
  cat >"$ENV_FILE.tmp" <<ENV
export EARSHOT_TEST_KAFKA='$kafka'
export EARSHOT_TEST_DATABASE_URL='$db'
export EARSHOT_TEST_S3='$s3'
export EARSHOT_KUSTOMIZE='$GOBIN/kustomize-$KUSTOMIZE_VERSION'
export EARSHOT_KUBE_SCORE='$GOBIN/kube-score-$KUBE_SCORE_VERSION'
ENV
  chmod 600 "$ENV_FILE.tmp"; mv "$ENV_FILE.tmp" "$ENV_FILE"
}

up() {
  local start; start=$(date +%s)
  # The slow first-run steps (Maven, go build, apt) run side by side.
  local pids=() names=(kafka postgres minio tools) failed=0
  "$LOCAL_DIR/kafka.sh" up & pids+=($!)
  "$LOCAL_DIR/postgres.sh" up & pids+=($!)
  "$LOCAL_DIR/minio.sh" up & pids+=($!)
  tools >/dev/null & pids+=($!)
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || { log "${names[$i]} failed"; failed=1; }; done
  [ "$failed" = 0 ] || exit 1
  write_env
  log "infrastructure ready in $(( $(date +%s) - start )) s: Kafka 127.0.0.1:$KAFKA_PORT, PostgreSQL 127.0.0.1:$PG_PORT, MinIO 127.0.0.1:$MINIO_PORT"
  log "endpoints: source $ENV_FILE"
}

down() {
  "$LOCAL_DIR/kafka.sh" down || true
  "$LOCAL_DIR/minio.sh" down || true
  "$LOCAL_DIR/postgres.sh" down || true
  rm -f "$ENV_FILE"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  env) [ -f "$ENV_FILE" ] || die "infrastructure is not up: run $0 up"; cat "$ENV_FILE" ;;
  tools) tools ;;
  status) "$LOCAL_DIR/kafka.sh" status || true; "$LOCAL_DIR/postgres.sh" status || true; "$LOCAL_DIR/minio.sh" status || true ;;
  *) die "usage: $0 up|down|env|status|tools" ;;
esac
