#!/bin/sh
# swarmhub-proxy [configurable-http-proxy options]
# Reads the API token from a file (SWARMHUB_PROXY_TOKEN_FILE, default
# /run/secrets/proxy-token) into the proxy's own environment, never the
# container's, and removes the socket a stopped proxy left behind (the
# proxy refuses to listen where a file exists).
set -eu
token_file=${SWARMHUB_PROXY_TOKEN_FILE:-/run/secrets/proxy-token}
[ -r "$token_file" ] || { echo "swarmhub-proxy: cannot read the API token $token_file" >&2; exit 1; }
CONFIGPROXY_AUTH_TOKEN=$(cat "$token_file")
[ -n "$CONFIGPROXY_AUTH_TOKEN" ] || { echo "swarmhub-proxy: the API token $token_file is empty" >&2; exit 1; }
export CONFIGPROXY_AUTH_TOKEN
previous=""
for arg in "$@"; do
  if [ "$previous" = --api-socket ] && [ -S "$arg" ]; then rm -f -- "$arg"; fi
  previous=$arg
done
exec node /opt/proxy/node_modules/configurable-http-proxy/bin/configurable-http-proxy "$@"
