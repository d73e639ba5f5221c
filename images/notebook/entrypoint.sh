#!/bin/sh
# Entrypoint of the notebook image. The container runs as the user's own
# uid:gid from the hub host, which this image's /etc/passwd does not know;
# without an entry, bash's prompt says "I have no name!", whoami fails and
# ssh refuses to run. For an unknown uid (or gid) this writes passwd/group
# files with an entry made from $USER and $HOME and loads them through
# nss_wrapper (LD_PRELOAD, inherited by everything started below). Then it
# runs the command with no-new-privileges: no process of the server, its
# kernels or terminals can gain privileges through execve (setuid bits, file
# capabilities). The nodes' engines set the same for the whole container
# (role docker, "no-new-privileges"); this keeps it where an engine does not.
set -eu

uid=$(id -u)
gid=$(id -g)
# The spawner passes USER; a known uid keeps its own name when USER is unset.
known_name=$(getent passwd "$uid" | cut -d: -f1)
name=${USER:-${NB_USER:-${known_name:-jovyan}}}

# Docker sets HOME=/ for a uid it cannot look up; / is not writable.
if [ -z "${HOME:-}" ] || [ "$HOME" = / ]; then
  HOME=/home/$name
  [ -d "$HOME" ] || HOME=/tmp
fi
export HOME

if ! getent passwd "$uid" >/dev/null || ! getent group "$gid" >/dev/null; then
  nss_dir=$(mktemp -d /tmp/nss_wrapper.XXXXXX)
  cp /etc/passwd "$nss_dir/passwd"
  cp /etc/group "$nss_dir/group"
  if ! getent passwd "$uid" >/dev/null; then
    # Drop an image entry of the same name, so the name maps to this uid.
    grep -v "^$name:" /etc/passwd > "$nss_dir/passwd" || true
    printf '%s:x:%s:%s:%s:%s:/bin/bash\n' "$name" "$uid" "$gid" "$name" "$HOME" >> "$nss_dir/passwd"
  fi
  if ! getent group "$gid" >/dev/null; then
    printf '%s:x:%s:\n' "$name" "$gid" >> "$nss_dir/group"
  fi
  export LD_PRELOAD="libnss_wrapper.so${LD_PRELOAD:+ $LD_PRELOAD}"
  export NSS_WRAPPER_PASSWD="$nss_dir/passwd" NSS_WRAPPER_GROUP="$nss_dir/group"
fi
export USER="$name"

# The environment's folder in the home (SWARMHUB_ENV_DIR), seeded on its
# first start with the files the image ships in SWARMHUB_SEED_FROM. Copied
# beside it and renamed into place, so a failed or concurrent start never
# leaves half a folder; an existing folder is never touched again, so the
# user's edits survive restarts and new versions of the image.
if [ -n "${SWARMHUB_ENV_DIR:-}" ] && [ ! -e "$SWARMHUB_ENV_DIR" ]; then
  staging=$(mktemp -d "$SWARMHUB_ENV_DIR.seeding.XXXXXX")
  if [ -d "${SWARMHUB_SEED_FROM:-}" ]; then
    cp -R --preserve=mode,timestamps "$SWARMHUB_SEED_FROM/." "$staging/"
  fi
  chmod 0755 "$staging"
  mv -T "$staging" "$SWARMHUB_ENV_DIR" 2>/dev/null || rm -rf "$staging"
fi

# Start where the spawner said (the environment's or project's folder), else
# in the home when no workdir was set.
if [ -n "${SWARMHUB_WORKDIR:-}" ]; then
  mkdir -p "$SWARMHUB_WORKDIR" && cd "$SWARMHUB_WORKDIR"
elif [ "$PWD" = / ] && [ -d "$HOME" ]; then
  cd "$HOME"
fi

# A course's formgrader (roles/courses): nbgrader's instructor tools on. The
# folder comes before the image's own settings, which turn them off.
if [ "${SWARMHUB_NBGRADER_ROLE:-}" = formgrader ]; then
  export JUPYTER_CONFIG_PATH=/opt/notebook/etc/jupyter-formgrader
fi

exec setpriv --no-new-privs -- "$@"
