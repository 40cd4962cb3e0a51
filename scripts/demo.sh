#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set everything up, start the lab, and run
# SOP 57 (Permohonan IP Publik) from request to closed with the lab's personas, through the
# `sop` CLI only (what an engineer would type), non-interactively. Prints where the documents are.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$SOP_ROOT"
t0=$(date +%s)
bash scripts/bootstrap.sh
export PATH="$SOP_ROOT/.venv/bin:$PATH"
sop lab up
# Test sessions on this clone share the lab NetBox and reset it: hold it alone for the demo,
# as they do (the same lock file as sop_runner.lab.lock.session_lock), or a reset can pull the
# data from under the run between its plan and its apply.
lock="${SOP_LAB_DIR:-$SOP_ROOT/.lab}/run/session.lock"
mkdir -p "$(dirname "$lock")"
exec 9>>"$lock"
flock -n 9 || { log "waiting for the lab NetBox ($(cat "$lock"))"; flock 9; }
printf 'pid %s: scripts/demo.sh\n' "$$" >"$lock"
sop lab reset   # the demo starts from the seed data so the allocation is visible
# Step 5 also routes the address on the edge router and NATs it on the DMZ gateway: the router
# lab (FRR in network namespaces, rebuilt at its baseline) and its network intent in NetBox.
# 9>&-: the FRR daemons outlive this script; given the lock's descriptor they would hold the
# lab's session lock forever and every later test session would wait for it.
bash scripts/lab/routers.sh down 9>&-
bash scripts/lab/routers.sh up 9>&-
python -m sop_runner.lab.seed_network >/dev/null
sop personas init .lab >/dev/null
export SOP_CONFIG="$SOP_ROOT/.lab/sop.yml"
say() { printf '\n\033[1m>>> %s\033[0m\n' "$*"; }

say "SKPD Dinas Kesehatan asks for a public IP for srv-dmz-dinkes-01"
run=$(sop request wonosobo-57 --as agus.dinkes --json \
  -p skpd=dinkes -p server=srv-dmz-dinkes-01 -p interface=eth0 -p dns_name=simpus.wonosobokab.go.id \
  -p justification="Aplikasi SIMPUS harus dapat diakses puskesmas melalui internet" -p ports='["443"]' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
echo "run: $run"
say "Step 1: Kepala Dinas disposes the letter to Kabid"
sop done "$run" --as sutrisno.kadis -m "Disposisi: mohon ditindaklanjuti Kabid" >/dev/null
say "Step 2: Kabid checks availability"
sop done "$run" --as hendra.kabid -m "Pool 203.0.113.0/24 masih tersedia" >/dev/null
say "Step 3: Kabid decides (signed)"
sop decide "$run" ya --as hendra.kabid -m "Layak: layanan publik kesehatan" >/dev/null
say "Step 4: the plan of step 5 (NetBox allocation + edge route + NAT, check mode + diff), then Kasi approves exactly that plan (signed)"
sop plan "$run" --as budi.teknis
# The Kasi approves the plan she read: its hash goes with the signature, and a newer plan is refused.
plan=$(sop show "$run" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plans"]["5"]["hash"])')
sop approve "$run" --as rina.kasi --plan "$plan" -m "Rencana alokasi disetujui" >/dev/null
say "Step 5: staf teknis applies the approved plan (re-planned and compared first)"
sop apply "$run" --as budi.teknis >/dev/null
addr=$(sop show "$run" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plans"]["5"]["stats"]["sop_plan"]["address"].split("/")[0])')
say "The server answers on $addr from the upstream router (outside the data centre)"
ip netns exec sop-rtr-isp socat -T2 - "TCP:$addr:80,bind=192.0.2.1,connect-timeout=2"
say "Steps 6-8: reply letter drafted, checked, signed and sent"
sop done "$run" --as rina.kasi -m "Draft surat jawaban disiapkan" >/dev/null
sop approve "$run" --as hendra.kabid -m "Draft surat sudah diperiksa" >/dev/null
sop done "$run" --as sutrisno.kadis -m "Surat resmi dikirim ke Dinas Kesehatan" >/dev/null
sop show "$run"
say "Audit log"
sop audit verify
say "Time against the SOP standard"
sop report sla "$run"
say "Documents"
sop docs "$run"
echo
echo "documents are in: $(dirname "$(sop docs "$run" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(next(iter(d.values()))["files"]["md"])')")"
echo "done in $(( $(date +%s) - t0 )) s"
