#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""What a VPS guest sees of itself, read over SSH (the Verify half of SOP 20-22)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vps_guest_facts
short_description: Host name, vCPUs, memory, root disk and addresses seen inside a VPS
description:
  - Logs in over the loopback port forwarded to the guest's SSH and reads C(hostname),
    C(nproc), C(MemTotal), the size of C(/) and the IPv4 addresses of eth0. Retries until
    O(timeout) so hot-plugged vCPUs and balloon changes have settled.
  - A read-only probe; never changed.
options:
  port: {description: 'Loopback port forwarded to the guest''s SSH.', type: int, required: true}
  key: {description: 'Private key to log in with.', type: path, required: true}
  timeout: {description: 'Seconds to keep retrying.', type: int, default: 60}
  expect_vcpus: {description: 'vCPU count to wait for (after a hot-plug); 0 does not wait for one.', type: int, default: 0}
author: sop-runner contributors
"""

RETURN = r"""
guest: {description: hostname, vcpus, memory_mb, root_gb, addresses, type: dict, returned: always}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.vps_libvirt import VirshError, guest_facts, wait_ssh


def main():
    module = AnsibleModule(
        argument_spec={
            "port": {"type": "int", "required": True},
            "key": {"type": "path", "required": True},
            "timeout": {"type": "int", "default": 60},
            "expect_vcpus": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    p = module.params
    deadline = time.monotonic() + p["timeout"]
    try:
        wait_ssh(p["port"], p["key"], p["timeout"])
        facts = guest_facts(p["port"], p["key"])
        # Hot-added vCPUs come online a moment after setvcpus returns.
        while p["expect_vcpus"] and facts["vcpus"] != p["expect_vcpus"] and time.monotonic() < deadline:
            time.sleep(1)
            facts = guest_facts(p["port"], p["key"])
    except (TimeoutError, VirshError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, guest=facts)


if __name__ == "__main__":
    main()
