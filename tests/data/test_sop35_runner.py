"""SOP 35 (Upgrade Aplikasi Database) through the runner: a real PostgreSQL point-release
upgrade (bookworm main -> bookworm-security) on a systemd container of the project image,
from the SKPD's request to the closed run, with the data compared before and after; then, on
the same server, the role's idempotence and its refusal of a stopped server.

This is the dbms_upgrade role's real-server test. A Molecule scenario with the same checks
(check mode first, converge, idempotence, side effect, verify) passed in 246 s but cost a
second PostgreSQL install; it was dropped to keep the suite's time budget (git history:
molecule/dbms_upgrade in commit f7da8ca)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_data_runner

from sop_runner.core.run.state import Outcome, RunStatus
from sop_runner.lab.paths import repo_root

pytestmark = [pytest.mark.molecule, pytest.mark.slow]
IMAGE = "localhost/debian-systemd:bookworm"


def _playbook(inventory: Path, extravars: dict[str, object]) -> tuple[int, int, str]:
    """ansible-playbook of SOP 35 outside the runner: (rc, changed, output)."""
    repo = repo_root()
    proc = subprocess.run([str(repo / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory),
                           str(repo / "playbooks" / "sop35_dbms_upgrade.yml"), "-e", json.dumps(extravars)],
                          cwd=repo, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "ANSIBLE_CONFIG": str(repo / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    out = proc.stdout + proc.stderr
    recap = re.search(r"changed=(\d+)\s+unreachable=\d+\s+failed=\d+", out)
    return proc.returncode, int(recap.group(1)) if recap else -1, out


def _exec(name: str, script: str, timeout: float = 600) -> str:
    proc = subprocess.run(["podman", "exec", "-e", "DEBIAN_FRONTEND=noninteractive", name, "bash", "-ec", script],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{script}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


@pytest.fixture
def old_pg_server() -> Iterator[tuple[str, str, str]]:
    """A systemd container running the oldest PostgreSQL 15 point release the mirror offers,
    with a database of rows; yields (name, old version, newest version)."""
    subprocess.run(["bash", str(repo_root() / "scripts" / "build_image.sh")], check=True, capture_output=True,
                   timeout=900)
    name = f"sop35-{uuid.uuid4().hex[:8]}"
    hard = int(subprocess.run(["bash", "-c", "ulimit -Hn"], capture_output=True, text=True, check=True)
               .stdout.strip().replace("unlimited", "1048576"))
    nofile = min(hard, 65536)
    subprocess.run(["podman", "run", "-d", "--name", name, "--hostname", name, "--runtime=runc", "--systemd=always",
                    "--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=32768:32768", IMAGE, "/sbin/init"],
                   check=True, capture_output=True, timeout=120)
    try:
        # systemd must have finished booting (tmpfs on /tmp, where apt's gpgv works) before apt runs.
        _exec(name, "for i in $(seq 90); do case $(systemctl is-system-running || true) in "
                    "running|degraded) exit 0;; esac; sleep 1; done; exit 1")
        versions = _exec(name, "apt-get update -q >/dev/null; apt-cache madison postgresql-15 "
                               "| awk -F'|' '{gsub(/ /, \"\", $2); print $2}' | sort -u | sort -V").split()
        assert len(versions) >= 2, f"the mirror offers only {versions}"
        old, new = versions[0], versions[-1]
        _exec(name, f"apt-get install -y -q --no-install-recommends postgresql-15={old} "
                    f"postgresql-client-15={old} libpq5={old} >/dev/null; "
                    "systemctl start postgresql@15-main; cd /; runuser -u postgres -- createdb simpeg; "
                    "runuser -u postgres -- psql -X -q -d simpeg -c \"CREATE TABLE pegawai (nip int PRIMARY KEY, "
                    "nama text); INSERT INTO pegawai SELECT g, 'Pegawai ' || g FROM generate_series(1, 4000) g\"")
        yield name, old, new
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False, timeout=120)


def test_sop35_minor_upgrade_through_the_runner(old_pg_server: tuple[str, str, str], tmp_path: Path) -> None:
    name, old, new = old_pg_server
    # podman exec is root already; the image has no sudo.
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[sop35_targets]\n{name} ansible_connection=containers.podman.podman "
                         "ansible_python_interpreter=/usr/bin/python3 ansible_become=false\n", encoding="utf-8")
    runner = make_data_runner(tmp_path, str(inventory))
    upstream = new.split("-")[0]
    run_id = runner.request("wonosobo-35", "sari.bkd", {
        "skpd": "bkd", "database_name": "simpeg", "engine": "postgresql", "server": name,
        "current_version": old.split("-")[0], "upgrade_type": "minor", "target_version": upstream,
        "justification": "Pembaruan keamanan PostgreSQL"}).run_id
    runner.complete(run_id, "rina.kasi", note="versi tersedia dan kompatibel")
    runner.plan(run_id, "rina.kasi")
    plan = runner.state(run_id).plans[4]
    assert plan.changed >= 1, "check mode on the fresh server must report the upgrade it would make"
    sop_plan = plan.stats["sop_plan"]
    assert (sop_plan["from_version"], sop_plan["to_version"]) == (old, new), sop_plan
    assert sop_plan["databases"] == ["simpeg"] and sop_plan["upgrade_needed"] is True
    assert _exec(name, "dpkg-query -W -f '${Version}' postgresql-15") == old, "planning must not upgrade"
    runner.approve(run_id, "hendra.kabid", True, "upgrade minor disetujui", plan_hash=runner.reviewable_plan(run_id))
    runner.apply(run_id, "rina.kasi")
    assert _exec(name, "dpkg-query -W -f '${Version}' postgresql-15") == new
    server = _exec(name, "cd /; runuser -u postgres -- psql -X -At -d simpeg -c "
                         "\"SELECT current_setting('server_version') || ' ' || count(*) FROM pegawai\"").split()
    assert (server[0], server[-1]) == (upstream, "4000"), server
    report = json.loads((runner.cfg.home / "runs" / run_id / "outputs" / "step4" / f"dbms-upgrade-{name}.json")
                        .read_text())
    assert (report["from_version"], report["to_version"]) == (old, new) and report["data_equal"] is True
    assert report["tables"]["simpeg"]["public.pegawai"][0] == "4000"
    runner.complete(run_id, "rina.kasi", note="draft surat dan laporan")
    runner.complete(run_id, "sutrisno.kadis", note="surat dikirim")
    state = runner.state(run_id)
    assert state.status is RunStatus.CLOSED and state.outcome is Outcome.COMPLETED
    assert {"laporan", "surat_jawaban"} <= set(state.documents)

    # The same request again: nothing left to upgrade, nothing changed.
    again = {"dbms_upgrade_engine": "postgresql", "dbms_upgrade_databases": ["simpeg"],
             "dbms_upgrade_expect_version": upstream, "dbms_upgrade_run_id": "again",
             "dbms_upgrade_report_dir": str(tmp_path / "again")}
    rc, changed, out = _playbook(inventory, again)
    assert rc == 0 and changed == 0, out
    # A stopped server is refused with the reason and left as it is.
    _exec(name, "systemctl stop postgresql@15-main")
    rc, changed, out = _playbook(inventory, again)
    assert rc != 0 and "is not running" in out and changed == 0, out
    assert _exec(name, "systemctl is-active postgresql@15-main || true").strip() == "inactive"
