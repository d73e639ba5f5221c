# bench_term ARGS: script/bench term (see script/bench). Trial cluster only: it
# deploys the trial's "bench" environment, makes the accounts with the users
# playbook, runs bench_term.py in the hub container, times one cull pass and one
# stats poll in their sidecars, then takes it all away again (servers, hub
# users, accounts and homes, the environment).

# The sidecars, as the trial names them (roles/swarmhub/defaults).
BENCH_CULLER=swarmhub-culler
BENCH_STATS=swarmhub-stats
BENCH_TOKEN_ENV=(python3 -m swarmhub.common.secret_env JUPYTERHUB_API_TOKEN=/run/secrets/hub-token --)
# One pass of the culler's own function with its sidecar's hub URL, over every
# user with a server. Its inactivity limit is a year, so the pass reads
# everything and stops nothing (the bench's servers are stopped by the bench).
BENCH_CULL_ONCE='
import asyncio, logging, os, sys, time
from jupyterhub_idle_culler import cull_idle
logging.basicConfig(level=logging.WARNING)
start = time.monotonic()
asyncio.run(cull_idle(sys.argv[1], os.environ["JUPYTERHUB_API_TOKEN"], 365 * 86400,
                      logging.getLogger("cull")))
print(f"cull pass (jupyterhub-idle-culler, every user with a server): {time.monotonic() - start:.2f} s")
'

bench_term() {
  local users=10000 servers=300 rate=5 prefix=term
  while [ $# -gt 0 ]; do
    case $1 in
      --users) users=$2; shift 2 ;;
      --servers) servers=$2; shift 2 ;;
      --rate) rate=$2; shift 2 ;;
      --prefix) prefix=$2; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [[ $users =~ ^[1-9][0-9]*$ ]] && [ "$users" -le 99999 ] || die "--users takes a number of users (1 to 99999), not '$users'"
  [[ $servers =~ ^[0-9]+$ ]] && [ "$servers" -le "$users" ] || die "--servers takes a number of servers (0 to --users, $users), not '$servers'"
  [[ $rate =~ ^[0-9]*\.?[0-9]+$ ]] && [ "$rate" != 0 ] || die "--rate takes servers per second (more than 0), not '$rate'"
  [[ $prefix =~ ^[a-z][a-z0-9]*$ ]] || die "--prefix takes lowercase letters and digits, starting with a letter, not '$prefix'"
  docker inspect hub >/dev/null 2>&1 || die "no trial cluster here (./script/cluster up, ./script/deploy): script/bench term runs on the trial alone"

  say "term bench: $users hub users, $servers of them with a running server"
  say "the trial's bench environment (images/bench), deployed"
  ./script/deploy -t images,jupyterhub -e trial_bench_environment=true
  bench_term_accounts present "$servers" "$prefix"
  local rc=0
  bench_in_hub "" bench_term.py start "$users" "$servers" "$rate" "$prefix" || rc=$?
  if [ "$rc" = 0 ]; then
    bench_term_cull_pass || rc=$?
    bench_term_stats_poll || rc=$?
  fi
  bench_in_hub "" bench_term.py stop "$users" "$servers" "$prefix" || rc=$?
  bench_term_accounts absent "$servers" "$prefix"
  say "the bench environment taken away again"
  ./script/deploy -t jupyterhub
  return "$rc"
}

# bench_term_accounts present|absent N PREFIX: the first N users' accounts (and,
# when absent, homes) through users.yml.
bench_term_accounts() {
  local state=$1 count=$2 prefix=$3 i file
  [ "$count" -gt 0 ] || return 0
  file=$(mktemp --suffix=.yml)
  {
    echo "users:"
    for ((i = 1; i <= count; i++)); do
      if [ "$state" = present ]; then
        printf '  - {name: %s%05d}\n' "$prefix" "$i"
      else
        printf '  - {name: %s%05d, state: absent, remove_home: true}\n' "$prefix" "$i"
      fi
    done
  } > "$file"
  say "accounts of $count bench users: $state (users.yml)"
  ./script/deploy users.yml -e "users_file=$file"
  rm -f "$file"
}

bench_term_cull_pass() {
  local command url
  command=$(docker exec hub docker inspect "$BENCH_CULLER" --format '{{join .Config.Cmd " "}}')
  url=$(grep -o -- '--url=[^ ]*' <<< "$command" | cut -d= -f2-)
  [ -n "$url" ] || die "no --url in the culler's command: $command"
  docker exec hub docker exec "$BENCH_CULLER" "${BENCH_TOKEN_ENV[@]}" python3 -c "$BENCH_CULL_ONCE" "$url"
}

# One poll into a scratch database in the sidecar (the trial's statistics keep
# no trace of the bench's users), timed from outside.
bench_term_stats_poll() {
  local db=/tmp/swarmhub-bench-term.sqlite start end rc=0
  start=$(date +%s.%N)
  docker exec hub docker exec "$BENCH_STATS" "${BENCH_TOKEN_ENV[@]}" \
    python3 -m swarmhub.stats poll --once --db "$db" || rc=$?
  end=$(date +%s.%N)
  docker exec hub docker exec "$BENCH_STATS" rm -f "$db"
  awk -v s="$start" -v e="$end" 'BEGIN { printf "stats poll (every user, one sample per server): %.2f s\n", e - s }'
  return "$rc"
}
