"""House rule: every network role's argument_specs keys equal its defaults, all role-prefixed."""

from __future__ import annotations

import pytest
import yaml
from netlab import ROOT

ROLES = ["router_replace", "public_ip_nat", "network_segment", "bandwidth_shaping", "config_compliance"]


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role: str) -> None:
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    assert all(name.startswith(f"{role}_") for name in defaults)
    for name, spec in options.items():
        assert spec.get("description"), f"{name} has no description"
