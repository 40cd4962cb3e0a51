"""Fill the connection options of net_config and net_command from the host's inventory variables.

Routers are driven from the controller (``connection: local``); the modules still need the
router's address and credentials. Taking them from ``ansible_host``/``ansible_port``/
``ansible_user``/``ansible_password``/``ansible_ssh_private_key_file`` keeps every role task
free of credential plumbing, and the modules mark the password ``no_log``.

One file for both modules: ``net_command.py`` is a symlink to this one and the module to run
is the task's own action name (``kominfo.sop.net_config`` or ``kominfo.sop.net_command``).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

# module option -> inventory variable it defaults to
_FROM_VARS = {
    "host": "ansible_host",
    "port": "ansible_port",
    "username": "ansible_user",
    "password": "ansible_password",
    "ssh_key_file": "ansible_ssh_private_key_file",
    "platform": "net_platform",
}
_MODULES = ("net_config", "net_command")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        module = self._task.action.rsplit(".", 1)[-1]
        if module not in _MODULES:
            result.update(failed=True, msg=f"this action plugin serves {', '.join(_MODULES)}, not {module}")
            return result
        args = dict(self._task.args)
        args.setdefault("device", task_vars.get("inventory_hostname"))
        for option, var in _FROM_VARS.items():
            if args.get(option) is None and task_vars.get(var) is not None:
                args[option] = self._templar.template(task_vars[var])
        if args.get("host") is None:
            args["host"] = task_vars.get("inventory_hostname")
        # By FQCN: the collection's modules are not on any library path.
        result.update(self._execute_module(module_name=f"kominfo.sop.{module}", module_args=args, task_vars=task_vars))
        return result
