# Shared shell helpers for script/*. Source it; it defines functions only.

# say MESSAGE: progress line on stderr, so stdout stays parseable.
say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: run COMMAND until it succeeds or
# the time is up; prints progress so a long wait is never silent.
wait_for() {
  local limit=$1 what=$2 start=$SECONDS next=$((SECONDS + 10)); shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= limit )); then
      printf 'error: timed out after %ss waiting for %s\n' "$limit" "$what" >&2
      return 1
    fi
    if (( SECONDS >= next )); then say "still waiting for $what ($((SECONDS - start))s)"; next=$((SECONDS + 10)); fi
    sleep 0.5
  done
}

# ensure_docker_engine: a working Docker engine on this machine. Installs
# Debian's docker.io when no engine exists, and starts dockerd by hand when
# there is no systemd to do it (containers, CI sandboxes).
ensure_docker_engine() {
  docker info >/dev/null 2>&1 && return 0
  if ! command -v dockerd >/dev/null 2>&1; then
    say "installing Docker engine (Debian docker.io)"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null \
      || die "could not install docker.io; install a Docker engine and rerun"
  fi
  if [ -d /run/systemd/system ]; then
    systemctl start docker || die "systemctl start docker failed: see journalctl -u docker"
  else
    say "starting dockerd (no systemd here; log in /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  wait_for 60 "the Docker engine" docker info || { tail -20 /var/log/dockerd.log >&2; die "Docker engine did not start"; }
}

# ensure_apt_packages PKG...: install Debian packages that are missing.
ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# ensure_configurable_http_proxy: the configurable-http-proxy the hub image
# pins (images/proxy/package.json) on this machine's PATH, from npm, for the
# hubs the integration tests and the stats benchmark run on loopback.
ensure_configurable_http_proxy() {
  local repo version have node_major
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  version=$(sed -n 's/.*"configurable-http-proxy": *"\([0-9.]*\)".*/\1/p' "$repo/images/proxy/package.json")
  [ -n "$version" ] || die "no configurable-http-proxy version in images/proxy/package.json"
  have=$(configurable-http-proxy --version 2>/dev/null || true)
  [ "$have" = "$version" ] && return 0
  command -v npm >/dev/null || ensure_apt_packages npm
  node_major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p')
  [ "${node_major:-0}" -ge 20 ] \
    || die "configurable-http-proxy $version needs Node.js 20 or later; this machine has $(node --version 2>/dev/null || echo none): install Node.js 20 (e.g. Debian trixie's nodejs) and rerun"
  say "installing configurable-http-proxy $version (npm)${have:+, replacing $have}"
  npm install -g --silent "configurable-http-proxy@$version" >/dev/null || die "npm install configurable-http-proxy@$version failed"
}
