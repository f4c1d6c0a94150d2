#!/bin/sh
# One Colyseus comparison run; see README.md. Arguments go to run.mjs:
#   ./run.sh --patch-ms 50 -n 800 -r 1 -t 30 [--procs 2] [--warmup 5] [--json]
cd "$(dirname "$0")" || exit 1
if [ ! -d node_modules/@colyseus/core ]; then
  echo "run.sh: node_modules missing; run 'npm ci' in $(pwd) first" >&2
  exit 1
fi
exec node run.mjs "$@"
