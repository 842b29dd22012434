#!/usr/bin/env bash
# The tests talk to a real Prometheus Pushgateway and check the alert rules with promtool, and
# verify the systemd units where systemd-analyze exists. Installs Debian's prometheus-pushgateway
# and prometheus (for promtool) when they are missing and we may (root + apt-get); otherwise says
# how to install them.
set -euo pipefail
missing=()
command -v prometheus-pushgateway >/dev/null 2>&1 || command -v pushgateway >/dev/null 2>&1 || missing+=(prometheus-pushgateway)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} (the tests use a real Pushgateway and promtool)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  # the package starts no service here (no systemd); the tests start their own on loopback
  exit 0
fi
echo "missing for the tests: ${missing[*]} — install with: sudo apt-get install ${missing[*]}" >&2
exit 1
