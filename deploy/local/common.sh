# Shared helpers for the deploy/local scripts (sourced, not run).
#
# Layout (every path can be overridden by the environment):
#   EARSHOT_CACHE      downloads and builds kept between runs (Maven jars, Go binaries)
#                      default: ${XDG_CACHE_HOME:-$HOME/.cache}/earshot
#   EARSHOT_INFRA_DIR  data, logs, pid files and generated credentials of the running servers
#                      default: <repo>/.earshot/infra
# Every server listens on 127.0.0.1 only.
set -euo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$LOCAL_DIR/../.." && pwd)"
EARSHOT_CACHE="${EARSHOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/earshot}"
EARSHOT_INFRA_DIR="${EARSHOT_INFRA_DIR:-$REPO_DIR/.earshot/infra}"
export GOBIN="$EARSHOT_CACHE/bin"

# Pinned versions (bump here; see docs/operations.md).
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"

# Loopback ports (not the defaults, so a developer's own servers do not clash).
KAFKA_PORT="${EARSHOT_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${EARSHOT_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${EARSHOT_PG_PORT:-15432}"
MINIO_PORT="${EARSHOT_MINIO_PORT:-19000}"
MINIO_CONSOLE_PORT="${EARSHOT_MINIO_CONSOLE_PORT:-19001}"

mkdir -p "$EARSHOT_CACHE/bin" "$EARSHOT_INFRA_DIR"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# as_root CMD...: run as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

# apt_install PKG...: install Debian packages that are missing (one apt-get update per run).
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  # One installer at a time on this machine.
  (
    flock -w 600 9 || die "timed out waiting for the apt lock"
    if [ ! -f "$EARSHOT_INFRA_DIR/.apt-updated" ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      touch "$EARSHOT_INFRA_DIR/.apt-updated"
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  ) 9>"$EARSHOT_INFRA_DIR/.apt.lock"
}

# port_open PORT: is something listening on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# alive PIDFILE: is the process in PIDFILE running?
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for TIMEOUT_S DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out after ${timeout}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

# stop_pid PIDFILE NAME: SIGTERM, wait up to 30 s, then SIGKILL; removes the pid file.
stop_pid() {
  local pidfile=$1 name=$2
  if alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in 30 s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

# with_lock NAME CMD...: one instance of a script's critical section at a time (flock on fd 9;
# servers started inside must close fd 9, `9>&-`, or they would hold the lock for life).
with_lock() {
  local name=$1; shift
  (
    flock -w 900 9 || die "timed out waiting for lock $name"
    "$@"
  ) 9>"$EARSHOT_INFRA_DIR/.$name.lock"
}

# secret: a random alphanumeric string (generated credentials).
secret() { local s; s=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9'); echo "${s:0:${1:-24}}"; }
