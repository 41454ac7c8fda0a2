# Shared helpers for scripts/: installs what a fresh Debian 12 machine with only
# Rust and Python 3.11 lacks. Every function is idempotent.

: "${root:?set root before sourcing tools.sh}"
CBINDGEN_VERSION=0.29.4
TOOLS="$root/.tools"
VENV="$root/.venv"
CBINDGEN="$TOOLS/bin/cbindgen"
PY="$VENV/bin/python"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

ensure_cbindgen() {
  if [[ -x "$CBINDGEN" ]] && "$CBINDGEN" --version | grep -q " $CBINDGEN_VERSION\$"; then return; fi
  log "installing cbindgen $CBINDGEN_VERSION into .tools/"
  cargo install --quiet --locked cbindgen --version "$CBINDGEN_VERSION" --root "$TOOLS"
}

ensure_beam() {
  if command -v mix >/dev/null && command -v erl >/dev/null \
     && [[ -d /usr/lib/erlang/usr/include || -n "$(ls -d /usr/lib/erlang/erts-*/include 2>/dev/null)" ]]; then
    return
  fi
  log "installing erlang-nox erlang-dev elixir (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq erlang-nox erlang-dev elixir >/dev/null
}

# The C tests run under valgrind and link an installed copy through pkg-config.
ensure_c_tools() {
  if command -v valgrind >/dev/null && command -v pkg-config >/dev/null; then return; fi
  log "installing valgrind pkg-config (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq valgrind pkg-config >/dev/null
}

# Python deps for tests and builds, pinned.
PY_REQS=(maturin==1.16.0 pytest==9.2.0 mypy==2.4.1)

ensure_venv() {
  if [[ ! -x "$PY" ]]; then
    log "creating .venv"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.reqs"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "${PY_REQS[*]}" ]]; then
    log "installing ${PY_REQS[*]} into .venv"
    "$PY" -m pip install --quiet --disable-pip-version-check "${PY_REQS[@]}"
    echo "${PY_REQS[*]}" > "$stamp"
  fi
}

# Builds and installs the Python package into .venv (a wheel via maturin).
install_python_package() {
  ensure_venv
  # maturin's PEP 517 hook runs the `maturin` binary from PATH.
  PATH="$VENV/bin:$PATH" "$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps "$root/bindings/python"
}
