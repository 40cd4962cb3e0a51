#!/usr/bin/env bash
# The project's one test command (README and .ci/run call exactly this): set up what is
# missing, start the lab, lint, validate the catalogue, run every test (unit, lab, Molecule).
# Exits non-zero on any failure; prints the time of each phase.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$SOP_ROOT"
t_all=$(date +%s)
declare -a timings=()
phase() { # phase NAME CMD...: run a phase and record its time
  local name="$1"; shift
  local t0; t0=$(date +%s)
  log "== $name"
  "$@"
  timings+=("$(printf '%-28s %5ss' "$name" "$(( $(date +%s) - t0 ))")")
}

phase "bootstrap" bash scripts/bootstrap.sh
export PATH="$SOP_ROOT/.venv/bin:$PATH"
if [[ -x scripts/build_image.sh ]]; then phase "molecule image" bash scripts/build_image.sh; fi
phase "lab up (NetBox)" sop lab up
phase "ruff" ruff check sop_runner tests scripts
phase "mypy (strict)" mypy
phase "yamllint" yamllint -s sops roles playbooks inventory
phase "ansible-lint" ansible-lint --offline -q roles playbooks
phase "catalogue validate" sop catalogue validate

pytest_rc=0
t0=$(date +%s)
log "== pytest"
pytest -p no:cacheprovider "$@" || pytest_rc=$?
timings+=("$(printf '%-28s %5ss' "pytest" "$(( $(date +%s) - t0 ))")")
if [[ $pytest_rc -eq 5 ]]; then
  log "pytest collected no tests: that is a failure here"
  pytest_rc=1
fi

printf '\nphase timings:\n' >&2
printf '  %s\n' "${timings[@]}" >&2
printf '  %-28s %5ss\n' "total" "$(( $(date +%s) - t_all ))" >&2
exit "$pytest_rc"
