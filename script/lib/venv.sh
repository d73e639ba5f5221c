# ensure_venv: the project's virtualenv in .venv with script/requirements.txt
# and the services package installed; reinstalls only when a pin changed.
ensure_venv() {
  local venv=.venv stamp
  stamp=$(cat script/requirements.txt $(ls services/pyproject.toml 2>/dev/null) | sha256sum | cut -c1-16)
  if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ]; then return 0; fi
  ensure_apt_packages python3-venv
  [ -x "$venv/bin/python" ] || { say "creating virtualenv $venv"; python3 -m venv "$venv"; }
  say "installing pinned Python tools into $venv (first run: a minute or two)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r script/requirements.txt \
    || die "pip install -r script/requirements.txt failed (see above)"
  if [ -f services/pyproject.toml ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check -e 'services[test]' \
      || die "pip install of services/ failed (see above)"
  fi
  echo "$stamp" >"$venv/.stamp"
}
