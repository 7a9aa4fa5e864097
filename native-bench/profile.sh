#!/usr/bin/env bash
# make profile: a clinic flame graph of shadowcat (L7 multi-session) under scenario (a)
# of the bench: small JSON-RPC POSTs, keep-alive, 64 connections, against nginx.
# Writes native-bench/results/flame-<date>.html (and prints its path).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
ROOT=$(cd .. && pwd)
bash ./ensure-tools.sh
[ -x node_modules/.bin/clinic ] || npm ci --no-audit --no-fund
mkdir -p .work/logs results
UP_PORT=${UP_PORT:-18290}
PX_PORT=${PX_PORT:-18291}
SECONDS_LOAD=${SECONDS_LOAD:-10}
. ./profile-upstream.sh
start_profile_upstream "$UP_PORT"
NGINX=$UPSTREAM_PID
trap 'kill $NGINX 2>/dev/null || true' EXIT
sleep 0.5
stamp=$(date -u +%Y%m%dT%H%M%SZ)
cd .work
# clinic runs the proxy, then the load command given to --on-port, then stops the proxy.
# NO_INSIGHT: clinic's usage telemetry would try the network and end the run silently.
rm -rf .clinic
# GLIBC_TUNABLES as make run starts the proxy (README, "Running it for speed"); clinic passes it on.
GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432 BENCH_LUA_DIR="$HERE/lua" NO_INSIGHT=1 taskset -c 1 "$HERE/node_modules/.bin/clinic" flame --open=false \
  --on-port "taskset -c 0 wrk -t1 -c64 -d${SECONDS_LOAD}s -s $HERE/lua/post.lua http://127.0.0.1:$PX_PORT/mcp" \
  -- node --single-threaded-gc "$ROOT/dist/cli.js" forward http --port "$PX_PORT" --url "http://127.0.0.1:$UP_PORT/mcp" --multi-session --log-level warn \
  | tee "$HERE/.work/logs/clinic.log"
html=$(ls -t "$HERE"/.work/.clinic/*.html | head -1)
cp "$html" "$HERE/results/flame-$stamp.html"
echo "flame graph: native-bench/results/flame-$stamp.html"
