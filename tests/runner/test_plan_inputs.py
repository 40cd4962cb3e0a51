"""What a plan is bound to: the whole inventory it ran against, and the lock keys of its targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_runner.service.planning import inventory_digest


def test_directory_inventory_counts_every_file(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    rtr-edge-01:\n")
    (inv / "host_vars" / "rtr-edge-01.yml").write_text("ansible_host: 10.255.0.1\n")
    first = inventory_digest(str(inv))
    assert inventory_digest(str(inv)) == first
    (inv / "host_vars" / "rtr-edge-01.yml").write_text("ansible_host: 10.255.0.9\n")
    assert inventory_digest(str(inv)) != first, "a changed host_vars file must change the digest"


def test_file_inline_and_none(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text("all: {}\n")
    before = inventory_digest(str(hosts))
    hosts.write_text("all: {hosts: {a: {}}}\n")
    assert inventory_digest(str(hosts)) != before
    assert inventory_digest("a,b,") != inventory_digest("a,c,")
    assert inventory_digest(None) == inventory_digest("")


def test_one_target_template_locks_each_host() -> None:
    from sop_runner.core.catalogue.model import Automation
    from sop_runner.service.planning import targets

    auto = Automation.model_validate({
        "status": "automated", "playbook": "playbooks/x.yml", "role": "x",
        "targets": ["{% for s in params.servers %}server:{{ s }} {% endfor %}", "server:{{ params.servers[0] }}"],
    })
    assert targets(auto, {"servers": ["srv-b", "srv-a"]}, {}) == ["server:srv-b", "server:srv-a"]


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A small project: ansible.cfg, a playbook using role a, which includes role b."""
    repo = tmp_path / "repo"
    for d in ("playbooks", "roles/a/tasks", "roles/b/tasks", "roles/c/tasks", "plugins", "inventory"):
        (repo / d).mkdir(parents=True)
    (repo / "ansible.cfg").write_text("[defaults]\nroles_path = roles\ninventory = inventory/hosts.yml\n")
    (repo / "inventory" / "hosts.yml").write_text("all:\n  hosts:\n    localhost:\n")
    book = repo / "playbooks" / "book.yml"
    book.write_text("- hosts: localhost\n  roles:\n    - a\n")
    (repo / "roles/a/tasks/main.yml").write_text("- ansible.builtin.include_role:\n    name: b\n")
    (repo / "roles/b/tasks/main.yml").write_text("- community.general.redfish_info: {}\n")
    (repo / "roles/c/tasks/main.yml").write_text("- ansible.builtin.debug: {}\n")
    return repo, book


def _digests(repo: Path, book: Path) -> tuple[str, str]:
    from sop_runner.service.planning import code_digest, config_digest

    return code_digest(repo, book), config_digest(repo, book, None, ["s3cret-token"])


def test_every_input_of_the_apply_is_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, book = _tree(tmp_path)
    monkeypatch.setenv("NETBOX_URL", "http://netbox.example:8000")
    monkeypatch.setenv("NETBOX_TOKEN", "s3cret-token")
    code, config = _digests(repo, book)
    assert _digests(repo, book) == (code, config), "two plans of an unchanged tree must hash the same"

    (repo / "roles/c/tasks/main.yml").write_text("- ansible.builtin.debug: {msg: x}\n")
    assert _digests(repo, book) == (code, config), "a role the playbook never reaches is not an input"
    (repo / "roles/b/tasks/main.yml").write_text("- ansible.builtin.debug: {}\n")
    assert _digests(repo, book)[0] != code, "a role reached through include_role is an input"
    code, config = _digests(repo, book)
    (repo / "playbooks/roles/a/tasks").mkdir(parents=True)
    (repo / "playbooks/roles/a/tasks/main.yml").write_text("- ansible.builtin.debug: {}\n")
    assert _digests(repo, book)[0] != code, "a role beside the playbook shadows roles_path"

    steps = [
        ("host_vars beside the playbook", lambda: (repo / "playbooks/host_vars").mkdir()
         or (repo / "playbooks/host_vars/localhost.yml").write_text("netbox_url: http://evil\n")),
        ("group_vars beside the inventory", lambda: (repo / "inventory/group_vars").mkdir()
         or (repo / "inventory/group_vars/all.yml").write_text("x: 1\n")),
        ("the inventory ansible.cfg names", lambda: (repo / "inventory/hosts.yml").write_text("all: {}\n")),
        ("ansible.cfg", lambda: (repo / "ansible.cfg").write_text(
            (repo / "ansible.cfg").read_text() + "forks = 1\n")),
        ("NETBOX_URL", lambda: monkeypatch.setenv("NETBOX_URL", "http://evil.example")),
        ("an ANSIBLE_ variable", lambda: monkeypatch.setenv("ANSIBLE_TIMEOUT", "99")),
    ]
    for what, change in steps:
        before = _digests(repo, book)[1]
        change()
        assert _digests(repo, book)[1] != before, f"changing {what} must change the plan hash"
    before = _digests(repo, book)[1]
    monkeypatch.setenv("NETBOX_TOKEN", "rotated-token")
    from sop_runner.service.planning import config_digest

    assert config_digest(repo, book, None, ["rotated-token"]) == before, "secret values are never hashed"


def test_check_mode_dependent_vars_are_refused(tmp_path: Path) -> None:
    from sop_runner.errors import InvalidInputError

    repo, book = _tree(tmp_path)
    (repo / "playbooks/host_vars").mkdir()
    hv = repo / "playbooks/host_vars/localhost.yml"
    hv.write_text("ansible_host: \"{{ '127.0.0.1' if ansible_check_mode else '203.0.113.9' }}\"\n")
    with pytest.raises(InvalidInputError, match=r"host_vars/localhost\.yml mentions ansible_check_mode") as err:
        _digests(repo, book)
    assert "remove the check-mode condition" in err.value.hint
    hv.unlink()
    (repo / "ansible.cfg").write_text("[defaults]\n# ansible_check_mode\n")
    with pytest.raises(InvalidInputError, match=r"ansible\.cfg mentions ansible_check_mode"):
        _digests(repo, book)


def test_collections_the_code_names_are_hashed(tmp_path: Path) -> None:
    repo, book = _tree(tmp_path)
    coll = repo / "playbooks/collections/ansible_collections/community/general"
    coll.mkdir(parents=True)
    (coll / "MANIFEST.json").write_text('{"collection_info": {"version": "1.0.0"}}')
    before = _digests(repo, book)[1]
    assert _digests(repo, book)[1] == before
    (coll / "MANIFEST.json").write_text('{"collection_info": {"version": "6.6.6"}}')
    assert _digests(repo, book)[1] != before, "a collection the roles name (community.general) is an input"
    unused = repo / "playbooks/collections/ansible_collections/other/unused"
    unused.mkdir(parents=True)
    (unused / "MANIFEST.json").write_text("{}")
    after = _digests(repo, book)[1]
    (unused / "MANIFEST.json").write_text('{"x": 1}')
    assert _digests(repo, book)[1] == after, "a collection nothing names is not an input"


def test_an_in_place_collection_counts_through_its_plugins_link(tmp_path: Path) -> None:
    """Like kominfo.sop: collections/ on collections_path, ``plugins`` a link to the repo's plugins/."""
    repo, book = _tree(tmp_path)
    (repo / "ansible.cfg").write_text("[defaults]\nroles_path = roles\ncollections_path = collections\n")
    (repo / "roles/c/tasks/main.yml").write_text("- kominfo.sop.thing: {}\n")
    (repo / "playbooks/book.yml").write_text("- hosts: localhost\n  roles:\n    - a\n    - c\n")
    (repo / "plugins/modules").mkdir()
    module = repo / "plugins/modules/thing.py"
    module.write_text("# v1\n")
    coll = repo / "collections/ansible_collections/kominfo/sop"
    coll.mkdir(parents=True)
    (coll / "galaxy.yml").write_text("namespace: kominfo\nname: sop\n")
    (coll / "plugins").symlink_to(Path("../../../../plugins"))
    before = _digests(repo, book)[1]
    assert _digests(repo, book)[1] == before, "the same tree gives the same digest"
    module.write_text("# v2\n")
    changed = _digests(repo, book)[1]
    assert changed != before, "a module changed behind the plugins link is an input"
    copy = repo / "elsewhere"
    (copy / "modules").mkdir(parents=True)
    (copy / "modules/thing.py").write_text("# v2\n")
    (coll / "plugins").unlink()
    (coll / "plugins").symlink_to(copy)
    assert _digests(repo, book)[1] != changed, "where the link points is an input, same content or not"
