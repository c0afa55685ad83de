# Sourced by the test scripts: a private redis-server on a free loopback port.
#
#   start_redis FIRST LAST DIR   starts one on the first free port in
#                                FIRST..LAST, data and log in DIR; sets
#                                redis_pid and redis_port (empty on failure)
#   stop_redis                   stops it (safe to call when none runs)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_redis() {
  local first=$1 last=$2 dir=$3 p
  redis_port=
  redis_pid=
  for p in $(seq "$first" "$last"); do
    port_free "$p" || continue
    redis-server --port "$p" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
      --daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = PONG ]; then redis_port=$p; break; fi
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$redis_port" ] && return 0
    kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; redis_pid=
  done
  [ -f "$dir/redis.log" ] && tail -20 "$dir/redis.log"
  return 1
}

stop_redis() {
  if [ -n "${redis_pid:-}" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
}
