#!/usr/bin/env bash
# What `npm test` needs on this machine, brought here before any suite starts (npm runs this as `pretest`), so the
# README's `npm ci && npm test` passes on a fresh Debian machine and .ci/run only adds lint and typecheck around it.
#
# One line per prerequisite: found, installed or started. Missing Debian packages are installed when this runs as
# root with apt-get; otherwise it stops at once with the command that installs them. A suite is never skipped for a
# missing tool: this script fails first, and the suites fail loudly on their own if something is still missing.
#
# TEST_DATABASE_URL / TEST_REDIS_URL point the tests at other servers; then this script only checks they answer.
set -uo pipefail

failed=0
apt_updated=0
say() { printf 'test prerequisites: %-26s %s\n' "$1" "$2"; }
fail() {
  say "$1" "MISSING — $2"
  failed=1
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# need <label> <command…> -- <debian packages…>: every command present, else install the packages (root) or fail.
need() {
  local label=$1 commands=() packages=()
  shift
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do commands+=("$1"); shift; done
  shift
  packages=("$@")
  local missing=()
  for c in "${commands[@]}"; do command -v "$c" >/dev/null || missing+=("$c"); done
  if [ "${#missing[@]}" = 0 ]; then
    say "$label" "found ($(command -v "${commands[0]}"))"
  elif can_install; then
    if apt_install "${packages[@]}"; then
      say "$label" "installed (apt-get install ${packages[*]})"
    else
      fail "$label" "apt-get install -y ${packages[*]} failed; run it by hand to see why"
    fi
  else
    fail "$label" "${missing[*]} not found; install with: sudo apt-get update && sudo apt-get install -y ${packages[*]}"
  fi
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_tcp() {
  for _ in $(seq 1 60); do
    tcp_open "$1" "$2" && return 0
    sleep 0.5
  done
  return 1
}

host_port() { # url default-port → "host port"
  local rest=${1#*://}
  rest=${rest#*@}
  rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "${host:-127.0.0.1} $port"
}

ensure_postgres() {
  local url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} host port
  read -r host port <<<"$(host_port "$url" 5432)"
  if tcp_open "$host" "$port"; then
    say PostgreSQL "found (listening on $host:$port)"
    return
  fi
  if [ -n "${TEST_DATABASE_URL:-}" ]; then
    fail PostgreSQL "nothing listens at $host:$port (TEST_DATABASE_URL); start that server"
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    fail PostgreSQL "not installed; install Debian's postgresql (trust auth on 127.0.0.1, a database named test)"
    return
  fi
  local version
  version=$(ls /etc/postgresql | head -n 1)
  if pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 && wait_tcp "$host" "$port"; then
    say PostgreSQL "started (pg_ctlcluster $version main)"
  else
    fail PostgreSQL "could not start it: pg_ctlcluster --skip-systemctl-redirect $version main start"
  fi
}

ensure_redis() {
  local url=${TEST_REDIS_URL:-redis://127.0.0.1:6379} host port
  read -r host port <<<"$(host_port "$url" 6379)"
  if tcp_open "$host" "$port"; then
    say Redis "found (listening on $host:$port)"
    return
  fi
  if [ -n "${TEST_REDIS_URL:-}" ]; then
    fail Redis "nothing listens at $host:$port (TEST_REDIS_URL); start that server"
    return
  fi
  if ! command -v redis-server >/dev/null; then
    if can_install && apt_install redis-server; then
      say Redis "installed (apt-get install redis-server)"
    else
      fail Redis "not installed; install with: sudo apt-get install -y redis-server"
      return
    fi
  fi
  if redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null 2>&1 &&
    wait_tcp 127.0.0.1 "$port"; then
    say Redis "started (redis-server on 127.0.0.1:$port, nothing kept on disk)"
  else
    fail Redis "could not start it: redis-server --daemonize yes --bind 127.0.0.1 --port $port --save \"\" --appendonly no"
  fi
}

ensure_postgres
ensure_redis
need 'promtool, prometheus' promtool prometheus -- prometheus
need ansible-playbook ansible-playbook -- ansible-core
# The console's browser tests drive Debian's Chromium through playwright-core (which downloads no browser of its own).
need chromium chromium -- chromium
# ansible-lint --profile production runs over ansible/ in test/integration/ops/ansible.test.ts (offline: no galaxy).
need ansible-lint ansible-lint -- ansible-lint
# The fault suite (npm run test:faults): network namespaces and tc netem (iproute2), partitions with nftables.
need 'ip, tc (iproute2)' ip tc -- iproute2
need nft nft -- nftables

if [ "$failed" != 0 ]; then
  echo 'test prerequisites: not met (see above); no suite was started' >&2
  exit 1
fi
