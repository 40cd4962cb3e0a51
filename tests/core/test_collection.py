"""The project's plugins are the collection kominfo.sop, documented and called only by FQCN.

Runs the real ansible-doc and ansible-playbook with the repository's ansible.cfg (no lab): the
collection is found with no setup beyond that file, every module renders its documentation, a
short module name no longer resolves, and no task in roles/, playbooks/, molecule/ or the test
fixtures calls a project module, action or filter by its short name.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTION = ROOT / "collections" / "ansible_collections" / "kominfo" / "sop"
FQCN = "kominfo.sop"
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))
ACTIONS = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py") if not p.name.startswith("_"))
# Task keywords whose value is a task list.
_TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")


def _filters() -> set[str]:
    """Names the filter plugins publish: the string keys of the dicts their ``filters()`` returns."""
    names: set[str] = set()
    for path in (ROOT / "plugins" / "filter").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name == "filters":
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Dict):
                        names |= {k.value for k in sub.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return names


def _ansible(tool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_collection_metadata() -> None:
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text(encoding="utf-8"))
    assert (galaxy["namespace"], galaxy["name"]) == ("kominfo", "sop")
    link = COLLECTION / "plugins"
    assert link.is_symlink() and not Path(os.readlink(link)).is_absolute(), "plugins is a relative link"
    assert link.resolve() == (ROOT / "plugins").resolve(), "the collection's code is the repository's plugins/"


def test_ansible_doc_lists_and_documents_every_module() -> None:
    listed = _ansible("ansible-doc", "-t", "module", "-l", FQCN, "--json", cwd=Path("/"))
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(listed.stdout)) == [f"{FQCN}.{m}" for m in MODULES]

    shown = _ansible("ansible-doc", "-t", "module", "--json", *[f"{FQCN}.{m}" for m in MODULES])
    assert shown.returncode == 0, shown.stderr
    docs = json.loads(shown.stdout)
    assert sorted(docs) == [f"{FQCN}.{m}" for m in MODULES]
    for name, entry in docs.items():
        doc = entry["doc"]
        assert doc["module"] == name.rsplit(".", 1)[-1], f"{name}: DOCUMENTATION names another module"
        assert doc.get("short_description") and doc.get("options"), f"{name}: no short_description or options"
    # The text render is stricter than --json: every option needs a description.
    text = _ansible("ansible-doc", "-t", "module", *[f"{FQCN}.{m}" for m in MODULES])
    assert text.returncode == 0, text.stderr
    for m in MODULES:
        assert f"> MODULE {FQCN}.{m} (" in text.stdout, f"{m}: no documentation rendered"


def test_netbox_action_group_is_every_module_with_a_netbox_connection() -> None:
    shown = _ansible("ansible-doc", "-t", "module", "--json", *[f"{FQCN}.{m}" for m in MODULES])
    assert shown.returncode == 0, shown.stderr
    with_netbox = {n.rsplit(".", 1)[-1] for n, e in json.loads(shown.stdout).items() if "netbox_url" in e["doc"]["options"]}
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    assert set(runtime["action_groups"]["netbox"]) == with_netbox


def test_a_short_module_name_does_not_resolve(tmp_path: Path) -> None:
    """No library path is left: only the FQCN finds a project module."""
    book = tmp_path / "book.yml"
    task = {"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "x", "nft_nat": {"public": "192.0.2.1"}}]}
    book.write_text(yaml.safe_dump([task]), encoding="utf-8")
    short = _ansible("ansible-playbook", "--syntax-check", "-i", "localhost,", str(book))
    assert short.returncode != 0 and "nft_nat" in short.stdout + short.stderr
    task["tasks"] = [{"name": "x", f"{FQCN}.nft_nat": {"public": "192.0.2.1"}}]
    book.write_text(yaml.safe_dump([task]), encoding="utf-8")
    full = _ansible("ansible-playbook", "--syntax-check", "-i", "localhost,", str(book))
    assert full.returncode == 0, full.stdout + full.stderr


def _tasks(node: Any) -> Iterator[dict[str, Any]]:
    """Every task (and play) dict in a YAML document, blocks and nested lists included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in _TASK_LISTS:
            yield from _tasks(node.get(key))


def _yaml_files() -> list[Path]:
    """Task files of the roles; playbooks, Molecule scenarios and fixtures without their vars."""
    files = [p for p in (ROOT / "roles").rglob("*.y*ml") if p.parent.name in ("tasks", "handlers")]
    for top in (ROOT / "playbooks", ROOT / "molecule", ROOT / "tests" / "fixtures"):
        files += [p for p in top.rglob("*.y*ml") if not {"group_vars", "host_vars", "vars"} & set(p.parts)]
    return sorted(files)


def _short_calls(task: dict[str, Any], names: set[str]) -> list[str]:
    bad = [k for k in task if k in names or (k.startswith(("ansible.builtin.", "ansible.legacy.")) and k.split(".")[-1] in names)]
    action = task.get("action") or task.get("local_action")
    if isinstance(action, str) and action.split()[0] in names:
        bad.append(f"action: {action.split()[0]}")
    return bad


def test_every_project_module_is_called_by_fqcn() -> None:
    names = set(MODULES) | set(ACTIONS)
    assert {"net_config", "vps_netbox"} <= names
    bad: list[str] = []
    files = _yaml_files()
    assert any(p.parts[-3:] == ("vps", "tasks", "create.yml") for p in files), "the walk reaches role task files"
    calls = 0
    for path in files:
        for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            bad += [f"{path.relative_to(ROOT)}: {k}" for k in _short_calls(task, names)]
            calls += sum(1 for k in task if k.startswith(f"{FQCN}."))
    assert calls >= len(MODULES), "the walk found the FQCN calls of the roles"
    # Inline playbooks in the tests are strings: look at their task lines.
    line = re.compile(rf"^\s*-?\s*(?:ansible\.(?:builtin|legacy)\.)?({'|'.join(sorted(names))}):\s*$")
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for no, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.match(text):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {text.strip()}")
    filters = _filters()  # none today; a filter added to plugins/filter is checked from then on
    if filters:
        used = re.compile(rf"\|\s*({'|'.join(sorted(filters))})\b")
        bad += [f"{p.relative_to(ROOT)}: | {m}" for p in files for m in used.findall(p.read_text(encoding="utf-8"))]
    assert not bad, "call these by FQCN (kominfo.sop.<name>):\n" + "\n".join(bad)


def test_the_plan_hash_reaches_the_collection() -> None:
    """A playbook whose role calls kominfo.sop modules: the collection is among its hashed inputs."""
    from sop_runner.adapters.execution import inputs
    from sop_runner.service.planning import _named_inputs, config_digest

    book = ROOT / "playbooks" / "sop20_vps_create.yml"
    named = _named_inputs(ROOT)
    roles = inputs.role_dirs(inputs.imported_playbooks(book), named["roles_path"])
    found = inputs.collection_dirs([book, *roles], inputs.collection_roots(book, named))
    assert COLLECTION in found
    assert config_digest(ROOT, book, None, []) == config_digest(ROOT, book, None, []), "two plans hash the same"
