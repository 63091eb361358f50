#!/usr/bin/env bash
# Prepares a machine (or a fresh clone) for the test suite; safe to run again, it only does what is missing:
#   1. the pinned Unleash server in test/support/unleash-server (npm ci from its lockfile);
#   2. PostgreSQL server binaries (initdb, pg_ctl, postgres), from Debian's packages when root;
#   3. the pinned opa CLI (scripts/install-opa.sh);
#   4. the deployment checkers: helm, hadolint, kubernetes-validate, promtool (scripts/install-deploy-tools.sh);
#   5. Debian's chromium for the console's browser tests (playwright-core drives /usr/bin/chromium),
#      and Debian's pgbouncer for the PostgreSQL sink behind a pooler in transaction mode;
#   6. the pinned versitygw, an S3 server with Object Lock, for the WORM archive (scripts/install-versitygw.sh);
#   7. the pinned OpenSearch for the SIEM sink (scripts/install-opensearch.sh), and the system user it runs as.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "setup-test-env: $*"; }

# 1. Unleash. npm writes node_modules/.package-lock.json on every install: older than the lockfile means stale.
unleash_dir="$root/test/support/unleash-server"
stamp="$unleash_dir/node_modules/.package-lock.json"
if [ ! -d "$unleash_dir/node_modules/unleash-server" ] || [ ! -f "$stamp" ] || [ "$unleash_dir/package-lock.json" -nt "$stamp" ]; then
  say "installing unleash-server from test/support/unleash-server/package-lock.json"
  # Unleash declares node >= 22 but runs on 20 for what the tests use; its install scripts
  # (husky, an analytics ping, optional native ssh builds) are not needed, so they are skipped.
  (cd "$unleash_dir" && npm ci --engine-strict=false --no-audit --no-fund --ignore-scripts)
else
  say "unleash-server $(node -p "require('$unleash_dir/node_modules/unleash-server/package.json').version") already installed"
fi

# 2. PostgreSQL server binaries; test/support/postgres.ts looks in the same places.
find_pg_bin() {
  local d
  for d in "${FLAGGATE_PG_BIN:-}" /usr/lib/postgresql/17/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/15/bin ${PATH//:/ }; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  return 1
}
if pg_bin="$(find_pg_bin)"; then
  say "PostgreSQL server binaries in $pg_bin ($("$pg_bin/postgres" --version))"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing PostgreSQL server from Debian packages"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
  pg_bin="$(find_pg_bin)" || { say "postgresql installed but initdb/pg_ctl/postgres still not found" >&2; exit 1; }
  say "PostgreSQL server binaries in $pg_bin"
else
  say "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; install PostgreSQL 15+ or set FLAGGATE_PG_BIN" >&2
  exit 1
fi
# PostgreSQL refuses to run as root; the tests then run it as the 'postgres' user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  say "creating system user postgres"
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

# 3. opa.
say "opa at $(bash "$root/scripts/install-opa.sh")"

# 4. helm, hadolint, kubernetes-validate, promtool.
bash "$root/scripts/install-deploy-tools.sh"

# Installs a Debian package when `present` fails and this is root; else says what will be skipped.
apt_if_missing() {
  local package="$1" present="$2" skipped="$3"
  if eval "$present"; then
    say "$package installed"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $package from Debian packages"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package"
  else
    say "$package not found; $skipped" >&2
  fi
}

# 5. chromium (the console's browser tests skip without it) and pgbouncer (the pooler test does).
apt_if_missing chromium '[ -x /usr/bin/chromium ]' "the console's browser tests will be skipped"
apt_if_missing pgbouncer '[ -x /usr/sbin/pgbouncer ] || [ -x /usr/bin/pgbouncer ]' 'the PostgreSQL pooler test will be skipped'

# 6. versitygw (built with Go on first run, about 3 minutes; skipped when the pinned version is there).
say "versitygw at $(bash "$root/scripts/install-versitygw.sh")"

# 7. OpenSearch, run by the tests as the 'opensearch' user: it refuses to start as root.
say "opensearch at $(bash "$root/scripts/install-opensearch.sh")"
if [ "$(id -u)" = 0 ] && ! id opensearch >/dev/null 2>&1; then
  say "creating system user opensearch"
  useradd --system --no-create-home --shell /usr/sbin/nologin opensearch
fi
