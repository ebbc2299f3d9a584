#!/usr/bin/env bash
# MinIO (S3-compatible object storage) on 127.0.0.1, built from source with `go install`.
#
#   deploy/local/minio.sh up      build once (cached in $EARSHOT_CACHE/bin), start, wait for /minio/health/ready
#   deploy/local/minio.sh down    stop (data is kept; `rm -rf $EARSHOT_INFRA_DIR/minio` to reset)
#   deploy/local/minio.sh status
#   deploy/local/minio.sh url     print the storage URL (s3+http://KEY:SECRET@127.0.0.1:PORT/earshot)
#
# Credentials are generated on first start and kept in $EARSHOT_INFRA_DIR/minio/credentials.
source "$(dirname "$0")/common.sh"

DIR="$EARSHOT_INFRA_DIR/minio"
PIDFILE="$DIR/minio.pid"
CREDS="$DIR/credentials"
BINARY="$GOBIN/minio-$MINIO_VERSION"

build() {
  [ -x "$BINARY" ] && return 0
  command -v go >/dev/null || die "Go is needed to build MinIO (https://go.dev/dl/)"
  log "go install github.com/minio/minio@$MINIO_VERSION (first run only: a few minutes)"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION") >&2
  mv "$tmp/minio" "$BINARY"; rm -rf "$tmp"
}

ready() { curl -fsS -m 2 "http://127.0.0.1:$MINIO_PORT/minio/health/ready"; }

up() {
  if alive "$PIDFILE" && ready; then log "already running on 127.0.0.1:$MINIO_PORT"; return 0; fi
  command -v curl >/dev/null || apt_install curl ca-certificates
  build
  mkdir -p "$DIR/data"
  if [ ! -f "$CREDS" ]; then
    { echo "MINIO_ROOT_USER=earshot$(secret 8)"; echo "MINIO_ROOT_PASSWORD=$(secret 32)"; } >"$CREDS"
    chmod 600 "$CREDS"
  fi
  log "starting MinIO"
  (
    set -a; source "$CREDS"; set +a
    export MINIO_BROWSER=off MINIO_UPDATE=off
    nohup "$BINARY" server "$DIR/data" --quiet --address "127.0.0.1:$MINIO_PORT" \
      --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" >"$DIR/minio.log" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE"
  )
  if ! wait_for 60 "MinIO on 127.0.0.1:$MINIO_PORT" ready; then
    tail -20 "$DIR/minio.log" >&2; stop_pid "$PIDFILE" minio; exit 1
  fi
  log "MinIO listening on 127.0.0.1:$MINIO_PORT (credentials in $CREDS)"
}

url() {
  # shellcheck disable=SC1090
  source "$CREDS"
  echo "s3+http://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@127.0.0.1:$MINIO_PORT/${1:-earshot}"
}

case "${1:-up}" in
  up) with_lock minio up ;;
  down) with_lock minio stop_pid "$PIDFILE" minio ;;
  build) with_lock minio build ;;
  url) url "${2:-earshot}" ;;
  status) if alive "$PIDFILE" && ready >/dev/null; then echo "minio: up 127.0.0.1:$MINIO_PORT"; else echo "minio: down"; exit 3; fi ;;
  *) die "usage: $0 up|down|status|build|url [bucket]" ;;
esac
