#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are on this machine.
# Installs Debian's `postgresql` package when they are missing and we may (root + apt-get);
# otherwise says how to install them or how to use an existing server instead.
set -euo pipefail
have() {
  if [ -n "${MPX_PG_BIN:-}" ] && [ -x "$MPX_PG_BIN/initdb" ]; then return 0; fi
  command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
if [ -n "${MPX_DATABASE_URL:-}${POSTGRES_HOST:-}" ] || have; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries not found: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  have && exit 0
fi
cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, pg_ctl, postgres) not found.
  Install them:         sudo apt-get install postgresql     (Debian/Ubuntu)
  or point at them:     export MPX_PG_BIN=/usr/lib/postgresql/15/bin
  or use a server:      export MPX_DATABASE_URL=postgresql://user:pass@host:5432/mpx
MSG
exit 1
