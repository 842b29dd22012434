#!/bin/sh
# every.sh SECONDS mpx-args… — run `mpx <args>` forever, SECONDS after each run finishes (the
# compose schedule; on a host use the systemd timers in jobs/ or crontab.example instead).
# Exit code 75 (busy / unavailable) is normal; anything else is logged and the loop goes on.
interval="$1"; shift
while :; do
  mpx "$@"; code=$?
  [ "$code" -eq 0 ] || [ "$code" -eq 75 ] || echo "every.sh: mpx $* exited $code" >&2
  sleep "$interval"
done
