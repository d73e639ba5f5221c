# Running a bench inside the hub container: of the trial cluster's hub (an empty
# SSH target), or of the hub at root@HOST over ssh.

# hub_host_exec SSH_TARGET COMMAND...: COMMAND on the hub host, stdin passed on.
hub_host_exec() {
  local ssh_target=$1; shift
  if [ -n "$ssh_target" ]; then
    ssh "$ssh_target" "$(printf '%q ' "$@")"
  else
    docker exec -i hub "$@"
  fi
}

# bench_in_hub SSH_TARGET SCRIPT ARGS...: script/lib/SCRIPT run by the hub
# container's python with ARGS, bench_hub.py (what the benches share) beside it.
bench_in_hub() {
  local ssh_target=$1 script=$2; shift 2
  hub_host_exec "$ssh_target" docker exec -i jupyterhub \
    sh -c 'mkdir -p /tmp/swarmhub-bench && cat > /tmp/swarmhub-bench/bench_hub.py' \
    < script/lib/bench_hub.py
  hub_host_exec "$ssh_target" docker exec -i -e PYTHONPATH=/tmp/swarmhub-bench jupyterhub \
    python - "$@" < "script/lib/$script"
}
