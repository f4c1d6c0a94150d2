#!/usr/bin/env bash
# Stops the local standalone Pulsar broker started by up.sh: SIGTERM, then SIGKILL when
# it has not exited after a grace period. Idempotent: nothing running is not an error.
# Data, logs, classpath and tokens under <repo>/.services/pulsar/ are kept.
#
# Environment: PULSAR_STOP_GRACE (seconds before SIGKILL, default 20).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state="$root/.services/pulsar"
pidfile="$state/pid"
grace="${PULSAR_STOP_GRACE:-20}"

say() { printf 'pulsar: %s\n' "$*"; }

# only a process whose command line names the standalone starter and this state
# directory is ours: a pid file left behind may point at a recycled pid
ours() {
  [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "PulsarStandaloneStarter" &&
    tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$state"
}

pid=""
[[ -f "$pidfile" ]] && pid="$(cat "$pidfile")"
if [[ -z "$pid" ]] || ! ours "$pid"; then
  say "not running"
  rm -f "$pidfile"
  exit 0
fi

say "stopping pid $pid"
kill -TERM "$pid" 2>/dev/null || true
for ((i = 0; i < grace * 10; i++)); do
  ours "$pid" || break
  sleep 0.1
done
if ours "$pid"; then
  say "still alive after ${grace} s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  while ours "$pid"; do sleep 0.1; done
fi
rm -f "$pidfile"
say "stopped"
