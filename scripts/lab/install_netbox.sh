#!/usr/bin/env bash
# Install NetBox into its own venv under $SOP_CACHE, shared by every clone on this machine.
# Never into the project's .venv: the NetBox wheel ships top-level packages (`core`, `users`,
# `utilities`, ...) that would shadow or clash with ours. Prints the venv path on success.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

version="${NETBOX_VERSION:-4.7.3}"
venv="$SOP_CACHE/netbox-$version/venv"
stamp="$venv/.sop-installed"

if [[ -f "$stamp" && -x "$venv/bin/netbox" ]]; then
  echo "$venv"
  exit 0
fi

py="$(find_python)" || die "no Python >= 3.12 found for NetBox. Install one (apt-get install python3.12, or pyenv install 3.12) or set SOP_PYTHON=/path/to/python3.12"
for tool in gcc pg_config; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (psycopg-c compiles against libpq): run scripts/bootstrap.sh"
done

log "netbox: installing $version into $venv with $py (first time: several minutes, ~550 MB)"
# The venv's parent also holds the lab's secrets.json and database dumps: owner-only (the
# venv itself and its stamp are unchanged, so an existing cache stays valid; `sop lab up`
# narrows a parent made before this rule).
(umask 077 && mkdir -p "$(dirname "$venv")")
# A half-built venv from an interrupted run would pass the netbox check but miss packages.
rm -rf "$venv"
"$py" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# This machine's pip config lists local file indexes that do not carry every project; pip
# warns once per package about them, which buries real errors.
quiet_pip() { "$venv/bin/pip" install -q "$@" 2> >(grep -v 'is ignored: it is neither' >&2); }
quiet_pip --upgrade pip setuptools wheel
quiet_pip "netbox==$version" gunicorn
"$venv/bin/python" -c 'import netbox' >/dev/null
echo "$version" > "$stamp"
log "netbox: installed"
echo "$venv"
