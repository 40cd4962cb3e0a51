"""The execution adapter under attack: request data never runs as code, and a run killed
mid-playbook leaves no secret in its artifacts (issue 13, items 1 and 9).

Every test here runs the real ansible-playbook through ``run_playbook`` on localhost; none
needs the lab.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from sop_runner.adapters.execution.extravars import inert_yaml
from sop_runner.adapters.execution.redact import MASK, scrub_run_dir
from sop_runner.adapters.execution.runner import run_playbook
from sop_runner.config import repo_root
from sop_runner.core.catalogue.model import Automation
from sop_runner.errors import InvalidInputError
from sop_runner.service.planning import bound_vars, render_value

REPO = repo_root()


def _local_inventory(tmp: Path) -> str:
    hosts = tmp / "hosts"
    hosts.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return str(hosts)


def _payload(marker: Path) -> str:
    return "{{ lookup('ansible.builtin.pipe', 'touch " + str(marker) + "') }}"


def test_extra_vars_reach_ansible_as_data(tmp_path: Path) -> None:
    """A value that is Jinja is printed, copied and templated literally; types survive."""
    marker, nested_marker = tmp_path / "MARKER", tmp_path / "MARKER2"
    (tmp_path / "t.j2").write_text("T: {{ myvar }} {{ nested.a[0] }}\n")
    book = tmp_path / "book.yml"
    book.write_text(textwrap.dedent(f"""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Show
              ansible.builtin.debug:
                msg: "v={{{{ myvar }}}} int={{{{ myint | type_debug }}}}:{{{{ myint + 1 }}}} list={{{{ mylist | type_debug }}}}:{{{{ mylist | length }}}} s={{{{ nested.a[1] | type_debug }}}}"
            - name: Copy
              ansible.builtin.copy:
                content: "{{{{ myvar }}}}\\n"
                dest: {tmp_path}/copied.txt
            - name: Template
              ansible.builtin.template:
                src: {tmp_path}/t.j2
                dest: {tmp_path}/templated.txt
            - name: Derive
              ansible.builtin.set_fact:
                derived: "{{{{ myvar ~ '!' }}}}"
            - name: Show derived
              ansible.builtin.debug:
                var: derived
        """))
    extravars = {"myvar": _payload(marker), "nested": {"a": [_payload(nested_marker), "007"]},
                 "myint": 41, "mylist": [1, 2, 3]}
    res = run_playbook(book, extravars=extravars, check=False, workdir=tmp_path / "wd", ident="inert",
                       repo_root=REPO, inventory=_local_inventory(tmp_path))
    assert res.ok, res.errors
    assert not marker.exists() and not nested_marker.exists(), "a request value ran as a template"
    assert (tmp_path / "copied.txt").read_text() == _payload(marker) + "\n"
    assert (tmp_path / "templated.txt").read_text() == f"T: {_payload(marker)} {_payload(nested_marker)}\n"
    shown = {t.task: t.msg for t in res.tasks}
    assert shown["Show"] == f"v={_payload(marker)} int=int:42 list=list:3 s=str"
    stdout = (Path(res.artifacts) / "stdout").read_text()
    assert "touch " + str(marker) in stdout and "derived: '{{ lookup(" in stdout


def test_inert_yaml_refuses_what_is_not_data() -> None:
    assert inert_yaml({}).startswith("--- !unsafe\n")
    with pytest.raises(InvalidInputError, match="nan"):
        inert_yaml({"x": [float("nan")]})
    with pytest.raises(InvalidInputError, match=r"x\.y is a set"):
        inert_yaml({"x": {"y": {1}}})


def test_binding_renders_a_parameter_once() -> None:
    """The SOP binding is a template; the parameter it inserts is not rendered again."""
    params = {"nomor_seri": "{{ 7 * 6 }}", "servers": ["{{ run.id }}"]}
    run = {"id": "r-1", "requester": "x", "sop": "s", "artifacts": "/a"}
    assert render_value("SN-{{ params.nomor_seri }}", params, run) == "SN-{{ 7 * 6 }}"
    assert render_value(["{{ params.servers[0] }}"], params, run) == ["{{ run.id }}"]
    auto = Automation.model_validate({"status": "automated", "playbook": "playbooks/x.yml", "role": "x",
                                      "vars": {"x_serial": "{{ params.nomor_seri }}", "x_n": 3}})
    assert bound_vars(auto, params, run) == {"x_serial": "{{ 7 * 6 }}", "x_n": 3}


def test_scrub_run_dir_masks_every_form_and_makes_files_private(tmp_path: Path) -> None:
    secret = 'nbt_' + uuid.uuid4().hex + '"é'
    (tmp_path / "a").mkdir(mode=0o755)
    (tmp_path / "a" / "raw.txt").write_text(f"token={secret}\n")
    (tmp_path / "a" / "event.json").write_text(json.dumps({"t": secret}))  # ensure_ascii escapes
    (tmp_path / "bin").write_bytes(b"\xff\x00" + secret.encode() + b"\xfe")
    (tmp_path / "clean.txt").write_text("nothing\n")
    for f in (tmp_path / "a" / "raw.txt", tmp_path / "clean.txt"):
        f.chmod(0o644)
    assert scrub_run_dir(tmp_path, [secret]) == 3
    assert scrub_run_dir(tmp_path, [secret]) == 0
    _assert_private_and_clean(tmp_path, secret)
    assert (tmp_path / "a" / "raw.txt").read_text() == f"token={MASK}\n"


def _assert_private_and_clean(root: Path, secret: str) -> None:
    forms = {secret.encode(), json.dumps(secret)[1:-1].encode()}
    for here, dirs, files in os.walk(root):
        assert os.stat(here).st_mode & 0o777 == 0o700, f"{here} is not 0700"
        for name in files:
            path = Path(here) / name
            assert path.stat().st_mode & 0o777 == 0o600, f"{path} is {oct(path.stat().st_mode & 0o777)}"
            data = path.read_bytes()
            assert not any(f in data for f in forms), f"the secret rests in {path}"
        assert dirs is not None


_KILL_BOOK = """\
- hosts: localhost
  gather_facts: true
  tasks:
    - name: Read the token
      ansible.builtin.set_fact:
        tok: "{{ lookup('ansible.builtin.env', 'NETBOX_TOKEN') }}"
    - name: Show the token
      ansible.builtin.debug:
        msg: "token is {{ tok }}"
    - name: Send the token
      ansible.builtin.uri:
        url: http://127.0.0.1:9/api/
        headers:
          Authorization: "Token {{ tok }}"
        timeout: 2
      failed_when: false
    - name: Hold
      ansible.builtin.command: sleep 120
"""

_DRIVER = """\
import sys
from pathlib import Path
from sop_runner.adapters.execution.runner import run_playbook
import os
run_playbook(Path(sys.argv[1]), extravars={"sop_run_id": "kill"}, check=False, workdir=Path(sys.argv[2]),
             ident="apply", repo_root=Path(sys.argv[3]), inventory=sys.argv[4],
             secrets=[os.environ["NETBOX_TOKEN"]])
"""


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _wait_for_task(events: Path, name: str, proc: subprocess.Popen[Any], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before task {name!r} started"
        for f in events.glob("*.json") if events.is_dir() else []:
            try:
                ev = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if ev.get("event") == "playbook_on_task_start" and ev.get("event_data", {}).get("task") == name:
                return
        time.sleep(0.2)
    pytest.fail(f"task {name!r} did not start within {timeout} s")


def test_secret_never_rests_in_artifacts_of_a_killed_run(tmp_path: Path) -> None:
    """SIGKILL of the runner and of ansible-playbook mid-run: no token on disk, private modes."""
    token = "nbt_" + uuid.uuid4().hex
    book = tmp_path / "book.yml"
    book.write_text(_KILL_BOOK)
    workdir = tmp_path / "wd"
    unlisted = "pg_" + uuid.uuid4().hex  # a secret nobody configured: kept out of ``command``
    env = {**os.environ, "NETBOX_TOKEN": token, "PGPASSWORD": unlisted}
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(book), str(workdir), str(REPO), _local_inventory(tmp_path)],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_for_task(workdir / "artifacts" / "apply" / "job_events", "Hold", proc)
        time.sleep(1.0)  # let the sleep start: the kill lands while a module runs
    finally:
        victims = _descendants(proc.pid)
        for pid in [proc.pid, *victims]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    files = [p for p in workdir.rglob("*") if p.is_file()]
    assert any(p.name == "command" for p in files) and any(p.parent.name == "job_events" for p in files)
    _assert_private_and_clean(workdir, token)
    command = json.loads((workdir / "artifacts" / "apply" / "command").read_text())
    assert unlisted not in json.dumps(command) and not command["env"].get("NETBOX_TOKEN")
    # The events are still there, censored, so the operator can see how far the run got.
    shown = [json.loads(p.read_text()) for p in files if p.parent.name == "job_events" and p.suffix == ".json"]
    debug = [e for e in shown if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == "Show the token"]
    assert debug and debug[0]["event_data"]["res"]["msg"] == f"token is {MASK}"


def test_ansible_playbook_censors_what_it_writes_itself(tmp_path: Path) -> None:
    """The partial events ansible-playbook writes (the runner had no chance to censor them) and
    its output hold the mask, not the token: run the wrapper alone, with no runner reading."""
    from ansible_runner.utils import get_callback_dir

    from sop_runner.adapters.execution import secret_exec

    token = "nbt_" + uuid.uuid4().hex
    book = tmp_path / "book.yml"
    book.write_text(_KILL_BOOK.split("    - name: Hold", maxsplit=1)[0])
    artifacts = tmp_path / "artifacts"
    (artifacts / "job_events").mkdir(parents=True)
    env = {**os.environ, "NETBOX_TOKEN": "", secret_exec.NAMES_ENV: "NETBOX_TOKEN",
           secret_exec.NONCE_ENV: "n1", "AWX_ISOLATED_DATA_DIR": str(artifacts),
           "ANSIBLE_STDOUT_CALLBACK": "awx_display", "ANSIBLE_CALLBACK_PLUGINS": get_callback_dir(),
           "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    done = subprocess.run(
        [sys.executable, "-m", secret_exec.__name__, "-i", _local_inventory(tmp_path), str(book)],
        input=json.dumps({"NETBOX_TOKEN": token}) + "\n", env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert secret_exec.prompt("n1") in done.stdout
    partials = list((artifacts / "job_events").glob("*-partial.json"))
    assert partials, "awx_display wrote no partial events"
    assert token not in done.stdout + done.stderr
    assert not [p for p in partials if token in p.read_text()]
    assert any(f"token is {MASK}" in p.read_text() for p in partials)
