"""Secrets at rest (issue 13, item 9): every file holding one is 0600 in a private directory.

The first half needs no lab: the helpers that create secret files, `secure` on a lab tree
made the old way, and `sop personas init`. The second half looks at the running lab after
`lab.up()` (which secures a lab created before these rules without restarting it).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sop_runner.lab import netbox as lab_netbox
from sop_runner.lab import permissions
from sop_runner.lab.paths import LabPaths
from sop_runner.secretfiles import private_dir, private_umask, restrict, write_private
from sop_runner.service.personas import init_personas


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most careless umask a caller can have: every bit the code does not drop stays."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


# -- the helpers, without a lab ---------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_write_private_creates_0600_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "netbox.env"
    write_private(target, "NETBOX_TOKEN=nbt_abc.def\n")
    assert _mode(target) == 0o600
    assert target.stat().st_uid == os.geteuid()
    assert target.read_text() == "NETBOX_TOKEN=nbt_abc.def\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["netbox.env"], "no temporary file left behind"


def test_write_private_replaces_a_world_readable_file_instead_of_reusing_it(tmp_path: Path) -> None:
    target = tmp_path / "lab.json"
    target.write_text("old")
    target.chmod(0o644)
    # A reader who opened the old file keeps its descriptor; the new secret must not reach it.
    with target.open() as early_reader:
        write_private(target, '{"token": "new-secret"}')
        assert early_reader.read() == "old"
    assert _mode(target) == 0o600
    assert target.read_text() == '{"token": "new-secret"}'


def test_write_private_does_not_write_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    victim.chmod(0o644)
    target = tmp_path / "configuration.py"
    target.symlink_to(victim)
    write_private(target, "SECRET_KEY = 'x'")
    assert victim.read_text() == "untouched"
    assert _mode(victim) == 0o644
    assert not target.is_symlink()
    assert _mode(target) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_private_dir_creates_and_narrows_to_0700(tmp_path: Path) -> None:
    fresh = private_dir(tmp_path / "a" / "keys")
    assert _mode(fresh) == 0o700
    assert _mode(tmp_path / "a") == 0o700, "missing parents are private too"
    existing = tmp_path / "conf"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    private_dir(existing)
    assert _mode(existing) == 0o700


def test_private_umask_is_inherited_by_children_and_restored(tmp_path: Path) -> None:
    import subprocess

    before = os.umask(0o022)
    try:
        with private_umask():
            subprocess.run(["sh", "-c", f"echo secret > {tmp_path / 'child.log'}"], check=True)
        assert os.umask(0o022) == 0o022, "the caller's umask is back after the block"
    finally:
        os.umask(before)
    assert _mode(tmp_path / "child.log") == 0o600


def test_restrict_does_not_follow_links(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("x")
    victim.chmod(0o644)
    link = tmp_path / "secret"
    link.symlink_to(victim)
    assert restrict(link, 0o600) is False
    assert _mode(victim) == 0o644
    assert restrict(tmp_path / "missing", 0o600) is False


def _old_style_lab(tmp_path: Path) -> LabPaths:
    """A lab tree as the code before this change left it: everything 0644/0755."""
    paths = LabPaths(root=tmp_path / ".lab", cache=tmp_path / "cache" / "netbox-4.7.3")
    for d in (paths.root, paths.netbox_root / "conf", paths.logs, paths.run, paths.redis_dir, paths.cache,
              paths.root / "keys", paths.root / "db"):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    secrets = {"secret_key": "K" * 50, "pepper": "P" * 50, "token_key": "tk", "token_secret": "S" * 40,
               "admin_password": "adminpw1234567890"}
    files = {
        paths.lab_json: json.dumps({"netbox": {"token": "nbt_tk." + "S" * 40}}),
        paths.netbox_env: "NETBOX_TOKEN=nbt_tk." + "S" * 40,
        paths.netbox_config: f'SECRET_KEY = "{"K" * 50}"',
        paths.root / "db" / "state.json": '{"password": "dbpw"}',
        paths.root / "keys" / "kasi": "-----BEGIN OPENSSH PRIVATE KEY-----",
        paths.root / "keys" / "kasi.pub": "ssh-ed25519 AAAA kasi",
        paths.logs / "netbox-manage.log": 'create_superuser("admin", "a@b", "adminpw1234567890") token="' + "S" * 40,
        paths.logs / "netbox-access.log": "GET /api/status/ 200",
        paths.ports_file: "{}",
        paths.secrets_file: json.dumps(secrets),
        paths.cache / "template.dump": "PGDMP",
    }
    for path, text in files.items():
        path.write_text(text)
        path.chmod(0o644)
    return paths


def test_secure_fixes_a_lab_made_before_the_rules(tmp_path: Path) -> None:
    paths = _old_style_lab(tmp_path)
    changed = permissions.secure(paths)
    assert changed, "an old-style lab needs changes"
    for secret in (paths.lab_json, paths.netbox_env, paths.netbox_config, paths.root / "db" / "state.json",
                   paths.root / "keys" / "kasi", paths.secrets_file, paths.cache / "template.dump"):
        assert _mode(secret) == 0o600, secret
    for private in (paths.netbox_root, paths.netbox_config.parent, paths.run, paths.redis_dir,
                    paths.root / "keys", paths.cache):
        assert _mode(private) == 0o700, private
    for passable in (paths.root, paths.logs, paths.root / "db"):
        assert _mode(passable) == 0o711, passable
    for top, _dirs, names in os.walk(paths.root):
        for name in names:
            assert not _mode(Path(top) / name) & 0o007, f"{Path(top) / name} is open to others"
    log = (paths.logs / "netbox-manage.log").read_text()
    assert "adminpw1234567890" not in log
    assert "S" * 40 not in log
    assert "create_superuser" in log, "the log keeps everything but the secrets"
    assert permissions.secure(paths) == [], "a second run has nothing left to change"


def test_secure_leaves_the_router_lab_to_its_own_script(tmp_path: Path) -> None:
    paths = _old_style_lab(tmp_path)
    login = paths.root / "routers" / "bin" / "vtysh-login"
    login.parent.mkdir(parents=True)
    login.write_text("#!/bin/sh\n")
    # The router SSH user runs this login shell as 'other'; taking its read bit would lock it out.
    login.chmod(0o755)
    permissions.secure(paths)
    assert _mode(login) == 0o755


@pytest.mark.usefixtures("open_umask")
def test_personas_keys_are_private_and_the_config_says_it_is_for_demos(tmp_path: Path) -> None:
    config = init_personas(tmp_path / "personas")
    keys = tmp_path / "personas" / "keys"
    assert _mode(keys) == 0o700
    private = [p for p in keys.iterdir() if not p.name.endswith(".pub")]
    assert len(private) == 8
    assert all(_mode(p) == 0o600 for p in private), {p.name: oct(_mode(p)) for p in private}
    assert _mode(config) == 0o600
    text = config.read_text()
    head = text.split("\n", 10)[:10]
    assert any("FOR DEMOS AND TESTS ONLY" in line for line in head), head
    assert "runner's configuration lists only public keys" in text
    users = yaml.safe_load(text)["users"]
    assert all(u["private_key_file"].startswith("keys/") for u in users), "the demo config still works"
    # Run again over keys an older version left world-readable: they are narrowed.
    (keys / "rina.kasi").chmod(0o644)
    init_personas(tmp_path / "personas")
    assert _mode(keys / "rina.kasi") == 0o600


def test_the_runners_home_is_private_new_or_old(tmp_path: Path) -> None:
    from sop_runner.config import load_config

    old = tmp_path / "old" / "var"
    old.mkdir(parents=True)
    old.chmod(0o755)
    for name, home in (("new", "var"), ("old", "var")):
        (tmp_path / name).mkdir(exist_ok=True)
        config = tmp_path / name / "sop.yml"
        config.write_text(f"home: {home}\n")
        assert _mode(load_config(str(config)).home) == 0o700, name


# -- the running lab ---------------------------------------------------------------------------


def _process_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # effective uid
    raise AssertionError(f"no Uid line for pid {pid}")


@pytest.mark.netbox
def test_the_running_labs_secrets_are_0600_in_private_directories(netbox_lab: tuple[str, str]) -> None:
    paths = LabPaths.default()
    named = [paths.lab_json, paths.netbox_env, paths.netbox_config, paths.secrets_file]
    for path in named:
        assert path.is_file(), f"{path} should exist on a running lab"
    secrets = permissions.secret_files(paths)
    assert set(named) <= set(secrets)
    for path in secrets:
        assert _mode(path) == 0o600, f"{path} is {oct(_mode(path))}"
        assert path.stat().st_uid == os.geteuid(), f"{path} belongs to another account"
        parent = path.parent
        expected = 0o711 if parent in {paths.root, paths.root / "db"} else 0o700
        assert _mode(parent) == expected, f"{parent} is {oct(_mode(parent))}"


@pytest.mark.netbox
def test_lab_root_is_passable_only_because_postgres_lives_below(netbox_lab: tuple[str, str]) -> None:
    paths = LabPaths.default()
    assert _mode(paths.root) == 0o711
    if os.geteuid() == 0:
        # The exception from 0700 holds only while another account needs to pass through.
        assert paths.pg_data.stat().st_uid != 0, "PostgreSQL runs as its own account from .lab/pg"


@pytest.mark.netbox
def test_netbox_runs_as_the_owner_of_its_configuration(netbox_lab: tuple[str, str]) -> None:
    paths = LabPaths.default()
    pid = lab_netbox.running_pid(paths)
    assert pid is not None
    assert _process_uid(pid) == paths.netbox_config.stat().st_uid, "gunicorn could not read a 0600 config"
    url, token = netbox_lab
    assert lab_netbox.api_status(url, token) is not None, "NetBox still answers after the narrowing"


@pytest.mark.netbox
def test_no_file_under_the_lab_is_open_to_others(netbox_lab: tuple[str, str]) -> None:
    paths = LabPaths.default()
    # scripts/lab/routers.sh owns .lab/routers: its FRR daemons and SSH login user are other accounts.
    skipped = {paths.root / "routers"}
    open_to_others = []
    for top, dirs, names in os.walk(paths.root):
        here = Path(top)
        # A folder others cannot enter (e.g. MariaDB's 0700 data dir, owned by mysql) hides its
        # files whatever their modes: only what others can reach counts.
        dirs[:] = [d for d in dirs if here / d not in skipped and (here / d).lstat().st_mode & 0o001]
        for name in names:
            info = (here / name).lstat()
            if stat.S_ISREG(info.st_mode) and info.st_mode & 0o004:
                open_to_others.append(f"{here / name} {oct(stat.S_IMODE(info.st_mode))}")
    assert open_to_others == []


@pytest.mark.netbox
def test_netbox_manage_log_keeps_no_secret(netbox_lab: tuple[str, str]) -> None:
    paths = LabPaths.default()
    log = paths.logs / "netbox-manage.log"
    if not log.exists():
        pytest.skip("this lab never ran a NetBox management command (everything restored from cache)")
    stored = json.loads(paths.secrets_file.read_text())
    text = log.read_text(errors="replace")
    for key in ("admin_password", "token_secret", "secret_key", "pepper"):
        assert stored[key] not in text, f"{key} is in {log}"
