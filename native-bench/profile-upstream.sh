# Sourced by profile.sh and ab.sh: start_profile_upstream PORT renders conf/upstream-profile.conf
# for PORT and starts that nginx on CPU 1 in the background; its pid is left in UPSTREAM_PID.
start_profile_upstream() {
  local port=$1 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  mkdir -p "$here/.work/logs"
  sed -e "s#@PORT@#$port#g" -e "s#@WORK@#$here/.work#g" "$here/conf/upstream-profile.conf" > "$here/.work/upstream-profile.conf"
  taskset -c 1 nginx -c "$here/.work/upstream-profile.conf" -p "$here/.work" &
  UPSTREAM_PID=$!
}
