"""Per-platform network configuration handling for the net_config module.

One class per platform (``frr``, ``ios``, ``routeros``); each overrides only what differs from
:class:`~.base.Platform`. :func:`get_platform` is the dispatcher.
"""
