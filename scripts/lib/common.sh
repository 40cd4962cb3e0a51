# shellcheck shell=bash
# Shared helpers for the project's scripts. Sourced, never executed.

SOP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Slow artefacts (wheels, the migrated NetBox template, images) live outside the clone so a
# fresh clone on the same machine reuses them; CI clones anew every run.
SOP_CACHE="${SOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sop-runner}"
export SOP_ROOT SOP_CACHE

log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# find_python: print the path of a Python >= 3.12, or fail saying how to get one.
find_python() {
  local cand
  local -a cands=()
  [[ -n "${SOP_PYTHON:-}" ]] && cands+=("$SOP_PYTHON")
  cands+=(python3.13 python3.12 python3)
  if command -v pyenv >/dev/null 2>&1; then
    local root; root="$(pyenv root)"
    for cand in "$root"/versions/3.1[2-9]*/bin/python3; do [[ -x "$cand" ]] && cands+=("$cand"); done
  fi
  cands+=(/usr/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3)
  for cand in "${cands[@]}"; do
    local path
    path="$(command -v "$cand" 2>/dev/null)" || continue
    # pyenv shims exist for versions that are not selected; ask the interpreter itself.
    if "$path" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      "$path" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

# apt_ensure PKG...: install the Debian packages that are missing, nothing else.
apt_ensure() {
  local -a missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "apt: installing ${missing[*]}"
  if [[ ! -f "$SOP_CACHE/.apt-updated" ]] || [[ -n "$(find "$SOP_CACHE/.apt-updated" -mmin +720 2>/dev/null)" ]]; then
    apt-get update -qq || die "apt-get update failed: check the network to Debian's mirror"
    mkdir -p "$SOP_CACHE" && touch "$SOP_CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# free_port: print a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
