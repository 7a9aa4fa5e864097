#!/usr/bin/env bash
# Paired A/B of one feature's cost: two shadowcat proxies (L7 multi-session) side by side
# on the same nginx upstream, A plain and B with the extra flags given, wrk alternating
# between them (scenario (a): small JSON-RPC POSTs, 64 keep-alive connections). Each
# round prints both proxies' CPU per request (user + system, all threads, from /proc) and
# B's RSS; pairing the rounds cancels most of a noisy machine's drift. Usage:
#   bash native-bench/ab.sh "--record /dev/shm/shadowcat-ab" [rounds] [seconds]
# A_DIST=/path/to/an/older/dist runs A from that build instead (B flags may then be ""):
# a before/after comparison of a change to the corridor itself; B_DIST likewise for B.
# A_FLAGS: flags for A too (both proxies with a feature on, e.g. two --record builds).
# A_NODE / B_NODE: more Node flags for A / B (beside --single-threaded-gc), e.g. a V8 heap flag.
# AB_TARGET=pipe runs the Node socket pipe (socket-pipe-target.mjs) as both A and B instead
# (the flags are then ignored): what a Node flag does to the floor.
# AB_SCENARIO=d runs scenario (d) instead (a GET of a 64 KiB event stream, 8 connections;
# the figures are then µs per response); AB_SCENARIO=c a GET of 1 MiB, 8 connections.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
B_FLAGS=${1?usage: ab.sh "<flags for B>" [rounds] [seconds]}
A_DIST=${A_DIST:-../dist}
B_DIST=${B_DIST:-../dist}
case "${AB_SCENARIO:-a}" in
  d) LOAD=(-c8 -s lua/get.lua); PATH_=/sse ;;
  c) LOAD=(-c8 -s lua/get.lua); PATH_=/big ;;
  *) LOAD=(-c64 -s lua/post.lua); PATH_=/mcp ;;
esac
ROUNDS=${2:-10}
SECS=${3:-3}
bash ./ensure-tools.sh >/dev/null
mkdir -p .work/logs
UP=18290; A=18301; B=18302
. ./profile-upstream.sh
start_profile_upstream "$UP"
NG=$UPSTREAM_PID
export GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432
COMMON=(forward http --url "http://127.0.0.1:$UP/mcp" --multi-session --log-level error --max-per-client 100000)
# shellcheck disable=SC2086
if [ "${AB_TARGET:-}" = pipe ]; then
  taskset -c 1 node --single-threaded-gc ${A_NODE:-} socket-pipe-target.mjs $A $UP > .work/logs/ab-a.log 2>&1 &
else
  taskset -c 1 node --single-threaded-gc ${A_NODE:-} "$A_DIST/cli.js" "${COMMON[@]}" --port $A ${A_FLAGS:-} > .work/logs/ab-a.log 2>&1 &
fi
PA=$!
# shellcheck disable=SC2086
if [ "${AB_TARGET:-}" = pipe ]; then
  taskset -c 1 node --single-threaded-gc ${B_NODE:-} socket-pipe-target.mjs $B $UP > .work/logs/ab-b.log 2>&1 &
else
  taskset -c 1 node --single-threaded-gc ${B_NODE:-} "$B_DIST/cli.js" "${COMMON[@]}" --port $B $B_FLAGS > .work/logs/ab-b.log 2>&1 &
fi
PB=$!
trap 'kill $PA $PB $NG 2>/dev/null || true' EXIT
for p in $A $B; do for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done; done
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
run() {
  local port=$1 pid=$2 t0 t1 n
  t0=$(ticks "$pid")
  n=$(BENCH_LUA_DIR="$HERE/lua" BENCH_PATH=$PATH_ BENCH_ACCEPT=text/event-stream taskset -c 0 wrk -t1 -d"${SECS}"s "${LOAD[@]}" "http://127.0.0.1:$port$PATH_" | sed -n 's/^BENCH .*"requests":\([0-9]*\).*/\1/p')
  t1=$(ticks "$pid")
  echo "scale=2; ($t1 - $t0) * 1000000 / $HZ / $n" | bc
}
run $A $PA > /dev/null; run $B $PB > /dev/null
echo "round  A µs/req  B µs/req  B−A   B RSS MiB"
for i in $(seq 1 "$ROUNDS"); do
  a=$(run $A $PA); b=$(run $B $PB)
  printf "%5d  %8s  %8s  %5s  %s\n" "$i" "$a" "$b" "$(echo "$b - $a" | bc)" "$(rss $PB)"
done
