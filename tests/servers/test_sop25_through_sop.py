"""SOP 25 (migrate the server OS) through `sop` (RunService) on one lab host.

Internal SOP started by the Kadis's written instruction (sutrisno.kadis); the host serves a
file with nginx and keeps rows in SQLite (as molecule/os_migrate prepares), and NetBox lists
nginx as its service. Kabid approves the check-mode plan (the Kadis who started the run may
not); Staf confirms the backup row and notifies the users; the apply re-plans, compares the
hash and runs the real Debian 12 -> 13 release upgrade with the checked backup first. Checked
from the host: /etc/debian_version, nginx answering, the data's checksums, the backup's
checksums; the Laporan Migrasi is rendered with the release before/after.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from srvlab import sh

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.errors import ForbiddenError, InvalidInputError
from sop_runner.service.runs import RunService

pytestmark = [pytest.mark.netbox, pytest.mark.slow]

DATA = "SOP 25 data: Dinas Kominfo Wonosobo"
# The data as the application sees it: the served file and the database's rows, hashed.
CHECKSUM = (
    "set -euo pipefail; { sha256sum /var/www/html/sop25.txt | cut -d' ' -f1;"
    " python3 -c \"import sqlite3; print(sqlite3.connect('/srv/app/app.db')"
    ".execute('SELECT id, body FROM notes ORDER BY id').fetchall())\" | sha256sum | cut -d' ' -f1; }"
)

ANSWER = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1/sop25.txt').read().decode())"


def _prepare(host: str) -> None:
    sh(
        host,
        f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get -qq update
apt-get -qq -y install nginx >/dev/null
echo '{DATA}' >/var/www/html/sop25.txt
install -d -m 755 /srv/app
python3 - <<'PY'
import sqlite3
c = sqlite3.connect('/srv/app/app.db')
c.execute('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)')
if not c.execute('SELECT count(*) FROM notes').fetchone()[0]:
    c.executemany('INSERT INTO notes (body) VALUES (?)', [('surat %d' % i,) for i in range(1, 101)])
c.commit()
PY
systemctl enable --now nginx
""",
    )


def _register_nginx(api: Any, host: str) -> None:
    vm = api.virtualization.virtual_machines.get(name=host)
    if api.ipam.services.get(virtual_machine_id=vm.id, name="nginx") is None:
        api.ipam.services.create(
            parent_object_type="virtualization.virtualmachine", parent_object_id=vm.id,
            name="nginx", protocol="tcp", ports=[80],
        )  # fmt: skip


def _params(host: str, **over: object) -> dict[str, object]:
    params: dict[str, object] = {
        "server": host,
        "source_os": "Debian 12 (bookworm)",
        "target_os": "debian",
        "target_version": "13",
        "applications": ["nginx"],
        "databases": ["sqlite:/srv/app/app.db"],
        "data_paths": ["/var/www/html", "/srv/app"],
        "reason": "Debian 12 mendekati akhir masa dukungan keamanan",
        "maintenance_date": "2026-11-28",
        "maintenance_window": "22:00-23:59",
    }
    params.update(over)
    return params


def test_sop25_refuses_bad_requests(one_server_runner: RunService, lab_server: str) -> None:
    with pytest.raises(InvalidInputError, match="os_migrate_target_release"):
        one_server_runner.request(
            "wonosobo-25", "sutrisno.kadis", _params(lab_server, target_os="rocky", target_version="9")
        )
    with pytest.raises(ForbiddenError, match="kadis"):
        one_server_runner.request("wonosobo-25", "dewi.staf", _params(lab_server))


def test_sop25_migrates_debian_12_to_13_with_backup(
    one_server_runner: RunService, lab_server: str, netbox_api: Any
) -> None:
    svc, host = one_server_runner, lab_server
    t0 = time.monotonic()
    _prepare(host)
    _register_nginx(netbox_api, host)
    before = sh(host, CHECKSUM)
    assert sh(host, "cut -d. -f1 /etc/debian_version").strip() == "12"
    print(f"prepared {host} in {time.monotonic() - t0:.0f} s")

    run_id = svc.request("wonosobo-25", "sutrisno.kadis", _params(host)).run_id
    svc.complete(run_id, "sutrisno.kadis", note="instruksi tertulis migrasi OS srv-lab-01 ke Debian 13")

    t1 = time.monotonic()
    svc.plan(run_id, "dewi.staf")
    sop_plan = svc.state(run_id).plans[5].stats["sop_plan"]
    print(f"plan in {time.monotonic() - t1:.0f} s: {sop_plan}")
    assert "migrasi bookworm -> trixie" in sop_plan[host], sop_plan
    assert "database: app" in sop_plan[host] and "nginx" in sop_plan[host], sop_plan
    assert sh(host, "cut -d. -f1 /etc/debian_version").strip() == "12", "planning must not change the host"
    assert sh(host, "test -e /var/backups/sop25 && echo yes || echo no").strip() == "no"

    with pytest.raises(ForbiddenError):
        svc.approve(run_id, "sutrisno.kadis", True, "menyetujui sendiri", plan_hash=svc.reviewable_plan(run_id))
    svc.approve(run_id, "hendra.kabid", True, "risiko migrasi dapat diterima", plan_hash=svc.reviewable_plan(run_id))
    svc.complete(run_id, "dewi.staf", note="backup dijalankan bersama migrasi (langkah 5)")
    svc.complete(run_id, "dewi.staf", note="pemberitahuan pemeliharaan dikirim ke pengguna")

    t2 = time.monotonic()
    svc.apply(run_id, "dewi.staf")
    print(f"apply (re-plan + backup + release upgrade) in {time.monotonic() - t2:.0f} s")

    assert sh(host, "cat /etc/debian_version").strip().split(".")[0] == "13"
    assert sh(host, f"python3 -c {ANSWER!r}").strip() == DATA, "nginx does not serve the data"
    assert sh(host, "systemctl is-active nginx").strip() == "active"
    assert sh(host, CHECKSUM) == before, "the data changed in the migration"
    checked = sh(host, "cd /var/backups/sop25 && sha256sum --strict -c SHA256SUMS")
    assert "files.tar.gz: OK" in checked and "db-app.dump: OK" in checked, checked

    state = svc.state(run_id)
    assert state.current == 6 and 5 in state.applied
    assert state.applied[5] == state.gate_for(2).plan_hash, "the approved plan was applied"
    svc.complete(run_id, "dewi.staf", note="aplikasi dan database berjalan di OS baru")
    # Rows 7-9 are the Staf's: the table has no Operator DC lane.
    svc.complete(run_id, "dewi.staf", note="review: versi OS, layanan dan data sesuai")
    svc.complete(run_id, "dewi.staf", note="OS baru dioperasikan")
    svc.complete(run_id, "dewi.staf", note="laporan migrasi dibuat")
    state = svc.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED

    laporan = Path(state.documents["laporan_migrasi"]["files"]["md"]).read_text(encoding="utf-8")
    # The apply's own result (sop_result), not the check-mode plan: the release read back.
    assert re.search(rf"\| {host} \| debian \| bookworm \(12[.\d]*\) \| trixie \(13[.\d]*\) \|", laporan), laporan
    # The Markdown record escapes < and > of every value (no raw HTML from data), so "->" reads "-&gt;".
    assert "migrasi bookworm -&gt; trixie" in laporan, laporan
    print(f"SOP 25 through sop on {host}: {time.monotonic() - t0:.0f} s")
