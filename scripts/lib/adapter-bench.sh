# Shared by scripts/bench-adapter and scripts/bench-sweep: the adapter under test on 127.0.0.1,
# forwarding into `omen bench sink`. Expects $omen, $out and a `pids` array from the caller.
sink_port=19091; data_port=19201; admin_port=19202
url="http://127.0.0.1:$data_port/api/v1/write"

cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }

start_sink() {
    "$omen" bench sink --listen "127.0.0.1:$sink_port" 2>"$out/sink.log" & pids+=($!)
}

# Starts a fresh adapter (no series state) and waits until it is ready; sets $adapter_pid.
start_adapter() {
    cat >"$out/adapter.yml" <<YAML
listen: 127.0.0.1:$data_port
admin_listen: 127.0.0.1:$admin_port
downstream:
  url: http://127.0.0.1:$sink_port/api/v1/write
  shards: ${SHARDS:-4}
YAML
    "$omen" adapter -c "$out/adapter.yml" --log warn 2>"$out/adapter.log" & adapter_pid=$!
    pids+=($adapter_pid)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin_port/ready" >/dev/null && return; sleep 0.1; done
    echo "adapter did not start" >&2; cat "$out/adapter.log" >&2; exit 1
}

stop_adapter() { kill "$adapter_pid"; wait "$adapter_pid" 2>/dev/null || true; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
active_series() { curl -s "http://127.0.0.1:$admin_port/metrics" | awk '/^omen_adapter_active_series / {print $2}'; }
