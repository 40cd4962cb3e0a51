"""Everything ansible-playbook reads besides the playbook's own code, as digests for the plan hash.

An approved plan is only worth its signature if the apply reads exactly what the plan read.
After an approval, a new ``playbooks/host_vars/localhost.yml`` or an inventory named in
``ansible.cfg`` sent the real apply elsewhere while the hash stayed the same. So the hash also
covers: ``ansible.cfg`` and every file or directory it names, the group_vars/host_vars beside
the playbook and beside each inventory source, every role the playbook reaches (transitively,
through every directory Ansible would search), the collections it names, and the environment
the runner gives ansible-playbook (secret values only as "present").
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sop_runner.core.canonical import digest, sha256_hex
from sop_runner.errors import InvalidInputError

# ansible.cfg keys (and their ANSIBLE_<KEY> variables) that name inputs; outputs such as
# log_path, local_tmp or the fact cache are not inputs and would make every hash unique.
_PATH_KEYS = {
    "inventory", "roles_path", "library", "module_utils", "collections_path", "collections_paths",
    "vault_password_file", "vault_identity_list", "playbook_dir", "private_key_file",
}
_OUTPUT_KEYS = {"fact_caching_connection", "log_path", "local_tmp", "remote_tmp", "retry_files_save_path"}
_ENV_PREFIXES = ("ANSIBLE_", "NETBOX_")
_FQCN = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\.[a-z_][a-z0-9_]*")
_SKIP_PARTS = {"__pycache__", ".git", "molecule"}


def _is_path_key(key: str) -> bool:
    return key not in _OUTPUT_KEYS and (key in _PATH_KEYS or (key.endswith("_plugins") and key != "enable_plugins"))


def _split_paths(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[:,]", value) if p.strip()]


def _resolve(raw: str, base: Path) -> Path:
    path = Path(raw.removeprefix("@")).expanduser()
    return path if path.is_absolute() else base / path


def file_digest(paths: Iterable[Path]) -> str:
    """SHA-256 over the absolute names and contents of every file under ``paths`` (existing)."""
    parts: list[str] = []
    for base in sorted({p.resolve() for p in paths if p.exists()}):
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for f in files:
            if _SKIP_PARTS & set(f.relative_to(base).parts) or f.suffix == ".pyc":
                continue
            parts.append(f"{f}\0{sha256_hex(f.read_bytes())}")
    return sha256_hex("\n".join(parts))


def config_paths(cfg: Path, env: Mapping[str, str]) -> dict[str, list[Path]]:
    """Input paths named by ``ansible.cfg`` and by ANSIBLE_* variables, by key."""
    named: dict[str, list[Path]] = {}
    if cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(cfg.read_text(encoding="utf-8"))
        for section in parser.sections():
            for key, value in parser.items(section):
                if _is_path_key(key):
                    named.setdefault(key, []).extend(_resolve(p, cfg.parent) for p in _split_paths(value))
    for name, value in env.items():
        key = name.removeprefix("ANSIBLE_").lower()
        if name.startswith("ANSIBLE_") and _is_path_key(key):
            named.setdefault(key, []).extend(_resolve(p, Path.cwd()) for p in _split_paths(value))
    return named


def vars_dirs(beside: Path) -> list[Path]:
    """The variable directories Ansible reads beside a playbook or an inventory."""
    return [beside / "group_vars", beside / "host_vars"]


def inventory_sources(inventory: str | None, named: Mapping[str, list[Path]]) -> list[Path]:
    """The inventory files/directories ansible-playbook will read."""
    sources = list(named.get("inventory", []))
    if inventory and ("/" in inventory or Path(inventory).exists()):
        sources.append(Path(inventory))
    return [s for s in sources if s.exists()]


def refuse_check_mode_vars(files: Iterable[Path]) -> None:
    """Refuse a vars or inventory file that can tell check mode from the apply.

    A value that depends on ``ansible_check_mode`` outside a role makes the plan show one
    thing and the apply do another; roles may use it (their code is hashed and reviewed).
    """
    for base in files:
        candidates = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for f in candidates:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "ansible_check_mode" in text:
                raise InvalidInputError(
                    f"{f} mentions ansible_check_mode: its values could differ between the plan and the apply",
                    hint="remove the check-mode condition from this vars/inventory file "
                    "(put check-mode handling in a role, where it is reviewed and hashed)",
                )


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _role_refs(node: Any, found: set[str]) -> None:
    """Role names a play, task list or meta/main.yml names (roles:, dependencies:, *_role:)."""
    if isinstance(node, dict):
        for key, val in node.items():
            if key in ("roles", "dependencies") and isinstance(val, list):
                for r in val:
                    name = r.get("role", r.get("name", "")) if isinstance(r, dict) else r
                    found.add(str(name))
            elif str(key).endswith(("include_role", "import_role")) and isinstance(val, dict):
                found.add(str(val.get("name", "")))
            else:
                _role_refs(val, found)
    elif isinstance(node, list):
        for item in node:
            _role_refs(item, found)


def imported_playbooks(playbook: Path) -> list[Path]:
    """The playbook and every playbook it imports (by a literal name), recursively."""
    books, todo = [], [playbook]
    while todo:
        book = todo.pop()
        if book in books or not book.is_file():
            continue
        books.append(book)
        for play in _yaml(book) or []:
            if isinstance(play, dict):
                target = play.get("import_playbook") or play.get("ansible.builtin.import_playbook")
                if isinstance(target, str) and "{{" not in target:
                    todo.append((book.parent / target).resolve())
    return books


def role_dirs(playbooks: list[Path], roles_path: list[Path]) -> list[Path]:
    """Every directory that may provide a role the playbooks reach, followed transitively.

    Ansible looks beside the playbook (``roles/``, then the playbook's folder) and along
    ``roles_path``; every existing candidate counts, so a role shadowing another is seen.
    A templated role name cannot be followed: then every role directory counts.
    """
    search: list[Path] = []
    for book in playbooks:
        search += [book.parent / "roles", book.parent]
    search += roles_path
    names: set[str] = set()
    for book in playbooks:
        _role_refs(_yaml(book), names)
    seen: set[str] = set()
    dirs: list[Path] = []
    while names - seen:
        name = sorted(names - seen)[0]
        seen.add(name)
        if not name or "{{" in name:
            dirs += [p for p in roles_path if p.is_dir()]
            continue
        for base in search:
            cand = base / name if "/" not in name else Path(name)
            if cand.is_dir() and cand not in dirs:
                dirs.append(cand)
                for f in sorted(cand.rglob("*.y*ml")):
                    if not _SKIP_PARTS & set(f.relative_to(cand).parts):
                        _role_refs(_yaml(f), names)
    return dirs


def collection_dirs(texts: Iterable[Path], search: list[Path]) -> list[Path]:
    """Installed collections whose FQCN (``ns.coll.x``) appears in the given files."""
    wanted: set[tuple[str, str]] = set()
    for base in texts:
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file() and p.suffix != ".pyc"]
        for f in files:
            try:
                wanted.update(_FQCN.findall(f.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    found: list[Path] = []
    for ns, coll in sorted(wanted):
        for root in search:
            cand = root / "ansible_collections" / ns / coll
            if cand.is_dir():
                found.append(cand)
    return found


def collection_digest(dirs: list[Path]) -> str:
    """Cheap: an installed collection's MANIFEST.json and FILES.json (the file checksums).

    A collection used in place has no MANIFEST.json and counts whole, through its symlinks:
    kominfo.sop's ``plugins`` links to the repository's plugins/, and where a link points is
    part of what runs (``rglob`` does not follow links, so it would hash galaxy.yml only).
    """
    parts: list[str] = []
    for d in dirs:
        meta = [d / "MANIFEST.json", d / "FILES.json"]
        parts.append(f"{d}\0{file_digest(meta) if any(m.is_file() for m in meta) else _linked_tree_digest(d)}")
    return sha256_hex("\n".join(parts))


def _linked_tree_digest(base: Path) -> str:
    """Every file under ``base``, links followed: its name there, its real path, its content."""
    parts: list[str] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link back up the tree: walk each real directory once
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(n for n in dirnames if n not in _SKIP_PARTS)
        for name in sorted(filenames):
            f = Path(dirpath) / name
            if f.suffix != ".pyc" and f.is_file():
                parts.append(f"{f.relative_to(base)}\0{os.path.realpath(f)}\0{sha256_hex(f.read_bytes())}")
    return sha256_hex("\n".join(parts))


def env_digest(env: Mapping[str, str], secrets: list[str]) -> str:
    """The runner's env for ansible plus ANSIBLE_*/NETBOX_* of this process; secrets as present."""
    hidden = {s for s in secrets if s}
    merged = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
    merged.update(env)
    from importlib.metadata import version

    from ansible.release import __version__ as core_version

    merged["(ansible-core)"] = str(core_version)
    merged["(ansible-runner)"] = version("ansible-runner")
    return digest({k: ("(secret)" if v in hidden else v) for k, v in sorted(merged.items())})


def collection_roots(playbook: Path, named: Mapping[str, list[Path]]) -> list[Path]:
    """Where Ansible finds collections: beside the playbook, the configured paths, the defaults."""
    import ansible_collections  # type: ignore[import-untyped]  # installed by the ``ansible`` distribution

    roots = [playbook.parent / "collections"]
    roots += named.get("collections_path", []) + named.get("collections_paths", [])
    roots += [Path.home() / ".ansible" / "collections", Path("/usr/share/ansible/collections")]
    roots += [Path(p).parent for p in getattr(ansible_collections, "__path__", [])]
    out: list[Path] = []
    for r in roots:
        if r not in out:
            out.append(r)
    return out


def describe(digests: Mapping[str, str]) -> str:
    """One digest over named digests, stable for the same inputs."""
    return sha256_hex(json.dumps(dict(sorted(digests.items())), sort_keys=True))
