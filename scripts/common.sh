# common.sh — sourced by the other scripts: project paths and the private cluster's coordinates.
# shellcheck shell=bash
AFP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AFP_PG_MAJOR=${AFP_PG_MAJOR:-15}
AFP_PG_CONFIG=${AFP_PG_CONFIG:-/usr/lib/postgresql/$AFP_PG_MAJOR/bin/pg_config}
[ -x "$AFP_PG_CONFIG" ] || AFP_PG_CONFIG=$(command -v pg_config || echo pg_config)
AFP_FIXTURES=${AFP_FIXTURES:-$AFP_ROOT/test/data}
export AFP_FIXTURES

# The private cluster: its own directory, a loopback port, trust authentication for local use only.
export PGHOST=${PGHOST:-127.0.0.1}
export PGPORT=${PGPORT:-${AFP_PGPORT:-54329}}   # as the Makefile: PGPORT, else AFP_PGPORT, else 54329
export PGUSER=${PGUSER:-postgres}

# PostgreSQL refuses to run as root; root runs the server as the "postgres" system user.
afp_server_user() {
  if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Runs a command as the server user.
afp_as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The cluster directory: AFP_CLUSTER_DIR, else .cluster in the project when the server user can
# reach it, else a directory under /var/tmp named after the project path.
afp_cluster_dir() {
  if [ -n "${AFP_CLUSTER_DIR:-}" ]; then echo "$AFP_CLUSTER_DIR"; return; fi
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$AFP_ROOT" 2>/dev/null; then
    echo "$AFP_ROOT/.cluster"
  else
    echo "/var/tmp/afp-cluster-$(printf '%s' "$AFP_ROOT" | sha256sum | cut -c1-12)"
  fi
}

afp_bindir() { "$AFP_PG_CONFIG" --bindir; }

afp_say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the Debian packages a script needs when they are missing (as root), or says which
# to install and fails. Scripts ask for what only they use (clang for fuzzing, FastAPI for the
# example), so that scripts/setup installs only what building and testing need.
afp_need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  afp_say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}
