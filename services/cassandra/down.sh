#!/usr/bin/env bash
# Stops the Cassandra that services/cassandra/up.sh started: SIGTERM, a grace period
# for it to flush and close, then SIGKILL. Idempotent: nothing running is fine.
#
# Environment (optional):
#   CASSANDRA_STOP_GRACE  seconds between SIGTERM and SIGKILL (default 30)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
grace="${CASSANDRA_STOP_GRACE:-30}"

if [[ ! -f "$pid_file" ]]; then
    say "not running (no $pid_file)"
    exit 0
fi
pid="$(cat "$pid_file")"
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    say "not running (stale pid file)"
    rm -f "$pid_file"
    exit 0
fi
# Only signal the process if it is the Cassandra we started, not a recycled pid.
if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'org.apache.cassandra.service.CassandraDaemon'; then
    say "pid $pid is not a CassandraDaemon; leaving it alone"
    rm -f "$pid_file"
    exit 0
fi

say "stopping pid $pid"
kill -TERM "$pid"
for ((i = 0; i < grace; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pid_file"
        say "stopped"
        exit 0
    fi
    sleep 1
done
say "still running after ${grace}s; sending SIGKILL"
kill -KILL "$pid" 2>/dev/null || true
for ((i = 0; i < 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
rm -f "$pid_file"
say "stopped (killed)"
