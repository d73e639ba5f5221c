# bench_burst ARGS: script/bench burst (see script/bench). The measuring runs in
# the hub container (bench_burst.py); this side checks the target, reads the
# nodes' pull events (trial only) and removes the users when asked.
bench_burst() {
  local users=40 rate=2 prefix=burst remove=false ssh_target="" not_trial=false
  while [ $# -gt 0 ]; do
    case $1 in
      -n) users=$2; shift 2 ;;
      --rate) rate=$2; shift 2 ;;
      --prefix) prefix=$2; shift 2 ;;
      --remove-users) remove=true; shift ;;
      --ssh) ssh_target=$2; shift 2 ;;
      --not-the-trial) not_trial=true; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  [[ $users =~ ^[1-9][0-9]*$ ]] || die "-n takes a number of users (at least 1), not '$users'"
  [[ $rate =~ ^[0-9]*\.?[0-9]+$ ]] && [ "$rate" != 0 ] || die "--rate takes users per second (more than 0), not '$rate'"
  [[ $prefix =~ ^[a-z][a-z0-9]*$ ]] || die "--prefix takes lowercase letters and digits, starting with a letter, not '$prefix'"
  if [ -n "$ssh_target" ]; then
    $not_trial || die "--ssh $ssh_target is not the trial cluster: the burst makes $users users there and loads the hub; add --not-the-trial if that is what you want"
    $remove && die "--remove-users runs users.yml on the trial's inventory; on another hub remove the users with ./script/deploy -i YOUR-INVENTORY users.yml"
  else
    docker inspect hub >/dev/null 2>&1 || die "no trial cluster here (./script/cluster up, ./script/deploy); for another hub: --ssh root@HUB --not-the-trial"
  fi
  local since rc=0
  since=$(date +%s)
  say "burst benchmark: $users users at $rate/s"
  # a failed burst still reports the pulls and removes its users, then fails
  bench_in_hub "$ssh_target" bench_burst.py "$users" "$rate" "$prefix" || rc=$?
  if [ -z "$ssh_target" ]; then
    local node pulls
    for node in $(docker ps --filter label=swarmhub.trial=1 --format '{{.Names}}' | grep '^node'); do
      pulls=$(docker exec "$node" docker events --since "$since" --until "$(date +%s)" \
        --filter type=image --filter event=pull --format '{{.Actor.ID}}')
      echo "image pulls on $node during the bench: ${pulls:-none}"
    done
  else
    echo "image pulls on the nodes: not checked (the nodes are not reachable from here)"
  fi
  if $remove; then
    bench_burst_remove_users "$users" "$prefix"
    bench_in_hub "$ssh_target" bench_burst.py "$users" "$rate" "$prefix" --remove-hub-users
  fi
  return "$rc"
}

# bench_burst_remove_users N PREFIX: the bench's accounts and homes, through
# users.yml (the hub's users go after it, by the hub API).
bench_burst_remove_users() {
  local users=$1 prefix=$2 i file
  file=$(mktemp --suffix=.yml)
  {
    echo "users:"
    for ((i = 1; i <= users; i++)); do
      printf '  - {name: %s%03d, state: absent, remove_home: true}\n' "$prefix" "$i"
    done
  } > "$file"
  say "removing the bench's $users accounts and homes (users.yml)"
  ./script/deploy users.yml -e "users_file=$file"
  rm -f "$file"
}
