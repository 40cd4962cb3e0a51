#!/usr/bin/env bash
# Lab servers for SOPs 24, 25 and 59 run through `sop`: systemd containers from the project's
# Debian image, sshd running on each, registered in the lab NetBox (VM, address, services).
# The runner reaches them through inventory/servers/. Same as `sop lab servers ...`.
#
#   scripts/lab/servers.sh up [-n N] [--no-netbox]   # start the first N hosts (default 2, max 4)
#   scripts/lab/servers.sh status [--json]
#   scripts/lab/servers.sh down                      # remove this clone's hosts
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$SOP_ROOT"
exec "$SOP_ROOT/.venv/bin/python" -m sop_runner.lab.servers "$@"
