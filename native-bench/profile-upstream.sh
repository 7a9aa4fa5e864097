# Sourced by profile.sh and ab.sh: start_profile_upstream PORT renders conf/upstream-profile.conf
# for PORT and starts that nginx on CPU 1 in the background; its pid is left in UPSTREAM_PID.
start_profile_upstream() {
  local port=$1 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  mkdir -p "$here/.work/logs"
  # Scenario (d)'s body, as bench.mjs writes it: ~500 small progress notifications.
  mkdir -p "$here/.work/www-sse"
  node -e 'let s = ""; for (let i = 0; s.length < 65536; i++) s += `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":1000}}\n\n`; require("fs").writeFileSync(process.argv[1], s)' "$here/.work/www-sse/sse"
  # Scenario (c)'s body: 1 MiB.
  head -c 1048576 /dev/zero | tr '\0' a > "$here/.work/www-sse/big"
  sed -e "s#@PORT@#$port#g" -e "s#@WORK@#$here/.work#g" "$here/conf/upstream-profile.conf" > "$here/.work/upstream-profile.conf"
  taskset -c 1 nginx -c "$here/.work/upstream-profile.conf" -p "$here/.work" &
  UPSTREAM_PID=$!
}
