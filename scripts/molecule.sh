#!/usr/bin/env bash
# Run `molecule test` for every scenario under molecule/ (or only the ones named), one after
# the other, and print each one's wall time. Exit status: 0 when all passed, 1 otherwise.
#
# Usage: scripts/molecule.sh [SCENARIO...]
#   env: MOLECULE_ACTION (default: test), SOP_KEEP_LOGS=1 keeps passing runs' logs,
#        SOP_RUN_ID (default: random) suffixes container names.
# Logs: var/molecule/<scenario>.log (ignored by git).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$SOP_ROOT"

[[ -x .venv/bin/molecule ]] || die "no .venv/bin/molecule: run scripts/bootstrap.sh"
# molecule calls ansible-config, ansible-playbook, ... by name.
export PATH="$SOP_ROOT/.venv/bin:$PATH"
# Plain logs: they are read in files and in CI output.
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_CONFIG="$SOP_ROOT/ansible.cfg"

bash scripts/build_image.sh

# nofile must not exceed the host's hard limit or runc's setrlimit fails at start.
hard="$(ulimit -Hn)"
[[ "$hard" == unlimited ]] && hard=1048576
export SOP_NOFILE="$(( hard < 65536 ? hard : 65536 ))"
export SOP_RUN_ID="${SOP_RUN_ID:-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
action="${MOLECULE_ACTION:-test}"

if (($# == 0)); then
  mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
else
  scenarios=("$@")
fi
((${#scenarios[@]})) || die "no scenarios under molecule/"

mkdir -p var/molecule
declare -a summary=()
failed=0
for s in "${scenarios[@]}"; do
  [[ -f "molecule/$s/molecule.yml" ]] || die "no scenario molecule/$s"
  eph="$(mktemp -d "${TMPDIR:-/tmp}/sop-molecule-$s.XXXXXX")"
  logf="var/molecule/$s.log"
  log "molecule $action -s $s (instance sop-$s-$SOP_RUN_ID, log $logf)"
  t0=$(date +%s)
  if MOLECULE_EPHEMERAL_DIRECTORY="$eph" molecule "$action" -s "$s" >"$logf" 2>&1; then
    rc=0; status=passed
  else
    rc=$?; status="FAILED (rc $rc)"; failed=1
    grep -n -B3 -A20 -m3 -E "fatal:|FAILED!|ERROR!|CRITICAL Ansible" "$logf" >&2 || tail -40 "$logf" >&2
    # A failed test leaves its instance behind: destroy it so no container keeps running.
    MOLECULE_EPHEMERAL_DIRECTORY="$eph" molecule destroy -s "$s" >>"$logf" 2>&1 || true
  fi
  dt=$(( $(date +%s) - t0 ))
  summary+=("$(printf '%-16s %-18s %5d s' "$s" "$status" "$dt")")
  log "$s: $status in ${dt} s"
  rm -rf "$eph"
done

printf '\n%-16s %-18s %7s\n' scenario result "wall" >&2
printf '%s\n' "${summary[@]}" >&2
exit "$failed"
