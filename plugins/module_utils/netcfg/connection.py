"""A netmiko session with errors that name the device and say what went wrong."""

from __future__ import annotations

try:
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

    HAS_NETMIKO = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_NETMIKO = False


class DeviceError(Exception):
    """The device could not be reached, refused the login or broke the session."""


def connect(platform, device, host, port, username, password=None, key_file=None, timeout=10):
    params = {
        "device_type": platform.netmiko_device_type,
        "host": host,
        "port": port,
        "username": username,
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
        "fast_cli": False,
    }
    if password:
        params["password"] = password
    if key_file:
        params.update(use_keys=True, key_file=key_file)
    else:
        params.update(use_keys=False, allow_agent=False)
    where = f"{device} ({host}:{port})"
    try:
        return ConnectHandler(**params)
    except NetmikoAuthenticationException:
        raise DeviceError(f"{where}: authentication failed for user {username!r} (wrong password or key)") from None
    except NetmikoTimeoutException as exc:
        raise DeviceError(
            f"{where}: unreachable (TCP/SSH timeout or connection refused: {exc.__class__.__name__})"
        ) from None
    except OSError as exc:
        raise DeviceError(f"{where}: unreachable ({exc})") from None
    except Exception as exc:  # netmiko raises plain ValueError/EOFError on odd prompts
        raise DeviceError(f"{where}: SSH session failed: {exc}") from None
