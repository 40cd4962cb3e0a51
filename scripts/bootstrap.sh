#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: Debian packages, a Python
# >= 3.12 virtualenv in .venv with pinned dependencies. Idempotent and fast when nothing changed.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$SOP_ROOT"
t0=$(date +%s)

[[ $(id -u) -eq 0 ]] || die "bootstrap installs Debian packages: run it as root (or with sudo)"

# Debian packages for the lab. Each lab component lists its own in scripts/lab/*.packages.
mapfile -t pkgs < <(cat scripts/packages/*.txt | sed 's/#.*//' | awk 'NF')
apt_ensure "${pkgs[@]}"

py="$(find_python)" || die "no Python >= 3.12 found. Install one (apt-get install python3.12, or pyenv install 3.12) or set SOP_PYTHON=/path/to/python3.12"
log "python: $py ($("$py" -c 'import platform; print(platform.python_version())'))"

stamp=".venv/.sop-bootstrap"
want="$(cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -c1-16 || true) $py"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x .venv/bin/sop ]]; then
  log "venv: up to date"
else
  if [[ -x .venv/bin/python ]] && ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3,12) else 1)'; then
    rm -rf .venv
  fi
  [[ -x .venv/bin/python ]] || "$py" -m venv .venv
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  .venv/bin/pip install -q --upgrade pip setuptools wheel
  constraint=()
  [[ -f requirements.lock ]] && constraint=(-c requirements.lock)
  log "venv: installing pinned dependencies (first time: a few minutes)"
  .venv/bin/pip install -q "${constraint[@]}" -e '.[dev]'
  echo "$want" > "$stamp"
fi
log "bootstrap done in $(( $(date +%s) - t0 )) s"
