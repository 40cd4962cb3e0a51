"""Platform parsing and diff rules, without a device."""

from __future__ import annotations

import sys

import pytest
from netlab import ROOT

# The modules import their helpers from the collection kominfo.sop (collections/ in the repo,
# its plugins/ linked to the repo's plugins/); a sys.path entry makes the same import work here.
if str(ROOT / "collections") not in sys.path:
    sys.path.append(str(ROOT / "collections"))

from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.platforms import PLATFORMS, get_platform

RUNNING = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r1
service integrated-vtysh-config
!
interface eth0
 description uplink
 ip address 198.51.100.2/30
exit
!
router bgp 64512
 neighbor 198.51.100.1 remote-as 64500
 neighbor 198.51.100.1 description isp
 !
 address-family ipv4 unicast
  network 203.0.113.0/24
 exit-address-family
exit
!
end
"""


def test_noise_is_ignored_and_order_does_not_matter() -> None:
    frr = get_platform("frr")
    intended = """hostname r1
router bgp 64512
 neighbor 198.51.100.1 description isp
 neighbor 198.51.100.1 remote-as 64500
 address-family ipv4 unicast
  network 203.0.113.0/24
interface eth0
 ip address 198.51.100.2/30
 description uplink
"""
    plan = frr.plan(RUNNING, intended, mode="replace")
    assert not plan.changed, plan.commands


def test_merge_adds_in_context_and_replace_removes() -> None:
    frr = get_platform("frr")
    plan = frr.plan(RUNNING, "interface eth0\n description WAN\n", mode="merge")
    assert plan.commands == ["interface eth0", "description WAN", "exit"]
    plan = frr.plan(RUNNING, "hostname r1\ninterface eth0\n ip address 198.51.100.2/30\n", mode="replace")
    assert "no router bgp 64512" in plan.commands
    # children of a removed block are not negated one by one
    assert not any(c.startswith("no neighbor") for c in plan.commands)
    assert "no description" in plan.commands


def test_removing_a_neighbor_drops_its_other_lines() -> None:
    frr = get_platform("frr")
    intended = "hostname r1\ninterface eth0\n description uplink\n ip address 198.51.100.2/30\n" \
               "router bgp 64512\n address-family ipv4 unicast\n  network 203.0.113.0/24\n"
    plan = frr.plan(RUNNING, intended, mode="replace")
    negations = [c for c in plan.commands if c.startswith("no neighbor")]
    assert negations == ["no neighbor 198.51.100.1 remote-as 64500"]


def test_absent_removes_only_present_leaves() -> None:
    frr = get_platform("frr")
    plan = frr.plan(RUNNING + "ip route 203.0.113.20/32 203.0.113.3\n",
                    "ip route 203.0.113.20/32 203.0.113.3\nip route 203.0.113.21/32 203.0.113.3\n",
                    state="absent")
    assert plan.commands == ["no ip route 203.0.113.20/32 203.0.113.3"]


def test_rejected_lines_are_found_in_the_session_echo() -> None:
    frr = get_platform("frr")
    out = ("r1(config)# interface lo\nr1(config-if)# frobnicate\n% Unknown command: frobnicate\n"
           "r1(config-if)# description ok\nr1(config-if)# end\n")
    assert frr.rejected_lines(out) == [("frobnicate", "% Unknown command: frobnicate")]


def test_ios_and_routeros_seams_parse() -> None:
    ios = get_platform("ios")
    running = "Building configuration...\nCurrent configuration : 120 bytes\n!\nversion 15.2\n" \
              "interface Gi0/0\n description x\n ip address 10.0.0.1 255.255.255.0\n!\nend\n"
    plan = ios.plan(running, "interface Gi0/0\n description y\n", mode="merge")
    assert plan.commands == ["interface Gi0/0", "description y", "exit"]
    ros = get_platform("routeros")
    export = "# by RouterOS\n/ip address add address=10.0.0.1/24 interface=ether1\n"
    plan = ros.plan(export, "/ip address add address=10.0.0.2/24 interface=ether1\n", mode="replace")
    assert plan.commands == [
        "/ip address remove [find where address=10.0.0.1/24 interface=ether1]",
        "/ip address add address=10.0.0.2/24 interface=ether1",
    ]


def test_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        get_platform("junos")
    assert set(PLATFORMS) == {"frr", "ios", "routeros"}
    assert "ansible_collections.kominfo.sop.plugins.module_utils.netcfg.frr" in sys.modules
