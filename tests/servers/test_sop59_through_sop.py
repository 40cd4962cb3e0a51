"""SOP 59 (cyber attack on the DMZ) through `sop` on the urgent path, on a lab host.

An attacker's footholds are planted on a lab host (a listener on a port NetBox does not list,
a root authorized_keys entry); an SKPD reports it; Kabid confirms the attack; the technical
staff act at once (urgent apply, before Kasi's plan approval); Kasi approves afterwards, which
signs the plan that was applied; the Laporan and the Nota Dinas Laporan Kejadian carry the
findings, the actions and the urgent-path flag. The host is checked clean from outside.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from srvlab import sh

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ConflictError, ForbiddenError
from sop_runner.lab import servers
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.slow]

BACKDOOR_PORT = 8088
ATTACKER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForSop59RunnerTestOnly0000000000000 attacker@evil"
ATTACKER_SOURCE = "203.0.113.66"


def _plant(host: str) -> None:
    sh(
        host,
        f"""set -e
cat >/etc/systemd/system/sop-test-backdoor.service <<'EOF'
[Unit]
Description=planted backdoor (runner test)
[Service]
ExecStart=/usr/bin/python3 -m http.server {BACKDOOR_PORT} --directory /tmp
[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now sop-test-backdoor.service
install -d -m 700 /root/.ssh
echo '{ATTACKER_KEY}' >>/root/.ssh/authorized_keys
for i in $(seq 20); do ss -Hltn | grep -q ':{BACKDOOR_PORT} ' && exit 0; sleep 0.5; done
exit 1
""",
    )


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def test_sop59_urgent_response_then_late_approval(server_runner: RunService, lab_servers: list[str]) -> None:
    svc = server_runner
    host = lab_servers[0]
    address = next(s.address for s in servers.status() if s.host == host)
    _plant(host)
    assert _answers(address, BACKDOOR_PORT), "the planted listener answers from outside before the response"

    run_id = svc.request(
        "wonosobo-59",
        "agus.dinkes",
        {
            "skpd": "dinkes",
            "affected_host": host,
            "indicators": "port asing terbuka dan kunci SSH tak dikenal pada server DMZ",
            "source_addresses": [ATTACKER_SOURCE],
        },
    ).run_id
    svc.decide(run_id, "hendra.kabid", "ya", "serangan terkonfirmasi oleh tim")
    assert svc.state(run_id).current == 3
    with pytest.raises(ConflictError, match="not an automated step"):
        svc.apply(run_id, "budi.teknis")  # only the urgent path acts before Kasi's approval
    with pytest.raises(ForbiddenError):
        svc.apply(run_id, "agus.dinkes", urgent_reason="pelapor tidak boleh bertindak")

    t0 = time.monotonic()
    svc.apply(run_id, "budi.teknis", urgent_reason="serangan aktif pada server DMZ, tindakan segera")
    print(f"urgent apply (re-plan + response) in {time.monotonic() - t0:.0f} s")
    state = svc.state(run_id)
    assert state.current == 3 and 4 in state.urgent and 4 in state.applied, "acted before the approval"

    # The host is clean, checked on the host and from outside.
    assert not _answers(address, BACKDOOR_PORT), "the backdoor still answers"
    assert _answers(address, 22), "sshd (the NetBox service) must still answer"
    unit = sh(
        host,
        "systemctl is-enabled sop-test-backdoor.service; systemctl is-active sop-test-backdoor.service",
        check=False,
    )
    assert unit.split() == ["disabled", "inactive"], unit
    assert "Sop59RunnerTestOnly" not in sh(host, "cat /root/.ssh/authorized_keys 2>/dev/null || true")
    ruleset = sh(host, "nft list ruleset")
    assert "policy drop" in ruleset and ATTACKER_SOURCE in ruleset and "tcp dport 22 accept" in ruleset, ruleset
    sshd = sh(host, "sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|permitrootlogin) '")
    assert "passwordauthentication no" in sshd and "permitrootlogin without-password" in sshd.replace(
        "prohibit-password", "without-password"
    ), sshd

    applied_hash = state.applied[4]
    svc.approve(run_id, "rina.kasi", True, "rencana pengamanan disetujui setelah tindakan darurat", plan_hash=svc.reviewable_plan(run_id))
    state = svc.state(run_id)
    assert state.gates[-1].plan_hash == applied_hash, "the late approval signs the applied plan"
    assert state.current == 5, "step 4 is recorded as applied, not run twice"
    svc.complete(run_id, "rina.kasi", note="draft nota dinas laporan kejadian")
    svc.approve(run_id, "hendra.kabid", True, "nota dinas diperiksa dan ditandatangani", plan_hash=svc.reviewable_plan(run_id))
    assert svc.state(run_id).current == 7, "the paper's last row: feedback to the reporter"
    svc.complete(run_id, "rina.kasi", note="feedback dikirim ke pelapor melalui email")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED

    nota = Path(state.documents["nota_dinas_laporan_kejadian"]["files"]["md"]).read_text(encoding="utf-8")
    laporan = Path(state.documents["laporan_penanganan"]["files"]["md"]).read_text(encoding="utf-8")
    assert f"{host}: port tak dikenal - tcp port {BACKDOOR_PORT}" in nota, nota
    assert f"{host}: kunci SSH tak dikenal" in nota, nota
    assert "stopped and disabled sop-test-backdoor" in nota, nota
    assert "removed authorized key" in nota, nota
    assert f"{host}: bersih" in nota, nota
    for doc in (nota, laporan):
        assert "disetujui kemudian oleh rina.kasi" in doc, doc
    assert "Jalur darurat" in nota and "JALUR DARURAT" in laporan


def test_sop59_approved_first_then_applied(server_runner: RunService, lab_servers: list[str]) -> None:
    """The ordinary path: Kasi approves the plan, then the staff apply exactly that plan.

    The role writes its nftables/sshd/report files with templates; a plan whose diff carried the
    template's temporary source name would never match the re-plan before the apply.
    """
    svc = server_runner
    host = lab_servers[1]
    address = next(s.address for s in servers.status() if s.host == host)
    _plant(host)
    run_id = svc.request(
        "wonosobo-59",
        "agus.dinkes",
        {"skpd": "dinkes", "affected_host": host, "indicators": "port asing terbuka",
         "source_addresses": [ATTACKER_SOURCE]},
    ).run_id
    svc.decide(run_id, "hendra.kabid", "ya", "serangan terkonfirmasi")
    svc.plan(run_id, "budi.teknis")
    planned = svc.state(run_id).plans[4].hash
    assert _answers(address, BACKDOOR_PORT), "planning must not touch the host"
    svc.approve(run_id, "rina.kasi", True, "rencana pengamanan disetujui", plan_hash=svc.reviewable_plan(run_id))
    svc.apply(run_id, "budi.teknis")
    state = svc.state(run_id)
    assert state.applied[4] == planned == state.gate_for(3).plan_hash, "the approved plan was applied"
    assert 4 not in state.urgent
    assert not _answers(address, BACKDOOR_PORT) and _answers(address, 22)
    assert "Sop59RunnerTestOnly" not in sh(host, "cat /root/.ssh/authorized_keys 2>/dev/null || true")
