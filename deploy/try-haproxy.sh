#!/usr/bin/env bash
# Tries deploy/haproxy.cfg end to end on this machine: one MCP server (server-everything),
# two shadowcat instances in front of it, HAProxy in front of them, and five MCP SDK
# clients calling tools through HAProxy. Mid-run, instance 1 gets SIGTERM: it drains and
# exits, HAProxy takes it out of rotation, and the clients go on through instance 2.
# Prints what each client saw before and after, and exits non-zero if a client stopped
# getting answers. Needs Node 20, HAProxy (installed from Debian's packages when missing)
# and a built tree (make build). SECONDS_BEFORE / SECONDS_AFTER set the run's length.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BEFORE=${SECONDS_BEFORE:-3}
AFTER=${SECONDS_AFTER:-4}
# stdout carries the clients' JSON lines: the install talks on stderr.
command -v haproxy >/dev/null || bash native-bench/ensure-tools.sh >&2
[ -f dist/cli.js ] || make build
WORK=$(mktemp -d /tmp/shadowcat-haproxy-XXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_http() { # url, what
  for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "$2 did not come up ($1)" >&2; exit 1
}
log() { echo "try-haproxy: $*" >&2; }

EV=$(free_port); P1=$(free_port); P2=$(free_port); A1=$(free_port); A2=$(free_port); LB=$(free_port); ST=$(free_port)
PORT=$EV node node_modules/@modelcontextprotocol/server-everything/dist/index.js streamableHttp > "$WORK/everything.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do (echo > "/dev/tcp/127.0.0.1/$EV") 2>/dev/null && break; sleep 0.05; done
for i in 1 2; do
  port=P$i; admin=A$i
  node dist/cli.js forward http --port "${!port}" --admin-port "${!admin}" --multi-session --upstream-pool 16 \
    --url "http://127.0.0.1:$EV/mcp" --shutdown-timeout 5 --log-level warn > "$WORK/shadowcat-$i.log" 2>&1 &
  PIDS+=($!)
  eval "SC${i}_PID=$!"
  wait_http "http://127.0.0.1:${!admin}/healthz" "shadowcat $i"
done
SC_LISTEN=127.0.0.1:$LB SC_STATS=127.0.0.1:$ST SC1=127.0.0.1:$P1 SC2=127.0.0.1:$P2 SC1_ADMIN=$A1 SC2_ADMIN=$A2 \
  haproxy -db -f deploy/haproxy.cfg > "$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
# Ready when HAProxy's own health checks see both instances UP.
for _ in $(seq 1 200); do
  up=$(curl -fs "http://127.0.0.1:$ST/stats;csv" 2>/dev/null | grep -c '^shadowcat,sc[12],.*,UP,' || true)
  [ "$up" = 2 ] && break
  sleep 0.1
done
[ "$up" = 2 ] || { log "HAProxy never saw both instances up"; cat "$WORK/haproxy.log" >&2; exit 1; }
log "server-everything :$EV, shadowcat :$P1 and :$P2, HAProxy :$LB (stats :$ST/stats)"

mkfifo "$WORK/mark"
node deploy/try-clients.mjs "http://127.0.0.1:$LB/mcp" 5 $((BEFORE + AFTER)) < "$WORK/mark" > "$WORK/clients.out" 2> "$WORK/clients.err" &
CLIENTS=$!
exec 3> "$WORK/mark"
sleep "$BEFORE"
log "SIGTERM to shadowcat 1 (pid $SC1_PID): it drains, HAProxy takes it out"
echo mark >&3
kill -TERM "$SC1_PID"
wait "$SC1_PID" 2>/dev/null && log "shadowcat 1 exited 0" || log "shadowcat 1 exited $?"
# Its health check (every second) marks it down; until then a refused connection is retried on sc2.
for _ in $(seq 1 100); do
  state=$(curl -fs "http://127.0.0.1:$ST/stats;csv" | awk -F, '$1=="shadowcat" && ($2=="sc1" || $2=="sc2") {print $2"="$18}' | tr '\n' ' ')
  case "$state" in *sc1=DOWN*) break ;; esac
  sleep 0.1
done
log "HAProxy sees: $state"
wait "$CLIENTS" || { log "clients failed"; cat "$WORK/clients.err" >&2; exit 1; }
exec 3>&-
cat "$WORK/clients.out"
# Every client must have been answered after the stop.
node -e "
const lines = require('fs').readFileSync('$WORK/clients.out', 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const stalled = lines.filter((c) => c.after.ok === 0);
const failed = lines.reduce((n, c) => n + c.before.failed + c.after.failed, 0);
const ok = lines.reduce((n, c) => n + c.before.ok + c.after.ok, 0);
console.error('try-haproxy: ' + lines.length + ' clients, ' + ok + ' calls answered, ' + failed + ' failed, ' + stalled.length + ' stalled after the stop');
process.exit(lines.length === 5 && stalled.length === 0 ? 0 : 1);
"
