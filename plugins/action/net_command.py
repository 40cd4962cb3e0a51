"""Fill net_command's connection options from the host's inventory variables (see net_config)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

_FROM_VARS = {
    "host": "ansible_host",
    "port": "ansible_port",
    "username": "ansible_user",
    "password": "ansible_password",
    "ssh_key_file": "ansible_ssh_private_key_file",
    "platform": "net_platform",
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _MODULE = "net_command"

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        args.setdefault("device", task_vars.get("inventory_hostname"))
        for option, var in _FROM_VARS.items():
            if args.get(option) is None and task_vars.get(var) is not None:
                args[option] = self._templar.template(task_vars[var])
        if args.get("host") is None:
            args["host"] = task_vars.get("inventory_hostname")
        result.update(self._execute_module(module_name=self._MODULE, module_args=args,
                                           task_vars=task_vars))
        return result
