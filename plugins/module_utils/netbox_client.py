# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Small helpers shared by the project's NetBox modules.

A connection built from ``netbox_url``/``netbox_token`` (checked once, so a wrong URL or a
refused token fails with one clear sentence instead of a traceback), and lookups by name or
slug whose errors name the option, the value and what does exist. Modules import it as
``ansible_collections.kominfo.sop.plugins.module_utils.netbox_client`` (the collection
kominfo.sop, whose ``plugins`` links to this repository's plugins/).
"""

from __future__ import annotations

import traceback

try:
    import pynetbox
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    HAS_PYNETBOX = False
    PYNETBOX_IMPORT_ERROR = traceback.format_exc()
    HTTPAdapter = object
else:
    HAS_PYNETBOX = True
    PYNETBOX_IMPORT_ERROR = None

from ansible.module_utils.basic import missing_required_lib

# The options every NetBox module takes; merge into the module's argument_spec.
NETBOX_CONNECTION_ARGS = {
    "netbox_url": {"type": "str", "required": True},
    "netbox_token": {"type": "str", "required": True, "no_log": True},
    "netbox_timeout": {"type": "int", "default": 30},
}

# How many existing names an error message lists before it says "and N more".
KNOWN_VALUES_SHOWN = 20


class NetBoxError(Exception):
    """A failure the module reports as its ``msg``; ``details`` go into the result."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class NetBoxLookupError(NetBoxError):
    """An option names an object NetBox does not have (or has more than once)."""


class _TimeoutAdapter(HTTPAdapter):
    """Give every request a timeout: requests has none by default, pynetbox sets none."""

    def __init__(self, timeout, *args, **kwargs):
        self._timeout = timeout
        super().__init__(*args, **kwargs)

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def require_pynetbox(module):
    """Fail the module the Ansible way when pynetbox is not importable."""
    if not HAS_PYNETBOX:
        module.fail_json(
            msg=missing_required_lib(
                "pynetbox",
                reason="set ansible_python_interpreter to the project venv's python",
            ),
            exception=PYNETBOX_IMPORT_ERROR,
        )


def connect(url, token, timeout=30):
    """Return a pynetbox API after one status call proved the URL and the token.

    Raises:
        NetBoxError: NetBox is unreachable, or it refused the token.
    """
    if not url:
        raise NetBoxError("netbox_url is empty: set it (or NETBOX_URL in the environment)")
    if not token:
        raise NetBoxError("netbox_token is empty: set it (or NETBOX_TOKEN in the environment)")
    api = pynetbox.api(url, token=token)
    session = requests.Session()
    adapter = _TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    api.http_session = session
    try:
        # /api/status/ answers anonymous callers too; a cheap authenticated probe is
        # the tenant list with limit=1, which fails on a refused token.
        api.tenancy.tenants.count()
    except requests.exceptions.RequestException as exc:
        raise NetBoxError(f"cannot reach NetBox at {url}: {exc}") from exc
    except pynetbox.RequestError as exc:
        status = exc.req.status_code
        if status in (401, 403):
            raise NetBoxError(
                f"NetBox at {url} refused the token (HTTP {status}): check netbox_token"
            ) from exc
        raise NetBoxError(
            f"NetBox at {url} answered HTTP {status}: {request_error_text(exc)}"
        ) from exc
    return api


def request_error_text(exc):
    """NetBox's own error text of a pynetbox RequestError (it is JSON most of the time)."""
    error = getattr(exc, "error", None)
    return str(error) if error else str(exc)


def known_values(endpoint, field, **scope):
    """A short, sorted, comma-separated list of ``field`` over ``endpoint``'s objects."""
    records = endpoint.filter(**scope) if scope else endpoint.all()
    values = sorted({str(getattr(record, field)) for record in records})
    if not values:
        return "(none)"
    shown = ", ".join(values[:KNOWN_VALUES_SHOWN])
    if len(values) > KNOWN_VALUES_SHOWN:
        shown += f", … and {len(values) - KNOWN_VALUES_SHOWN} more"
    return shown


def get_one(endpoint, option, value, what, field="slug", **scope):
    """The single object of ``endpoint`` whose ``field`` equals ``value``.

    Args:
        endpoint: a pynetbox endpoint, e.g. ``api.tenancy.tenants``.
        option: the module option the value came from (named in errors).
        value: what the user asked for.
        what: a human word for the object type ("tenant", "interface").
        field: the NetBox filter and attribute to match on (``slug`` or ``name``).
        **scope: extra filters, e.g. ``device_id=…`` for an interface.

    Raises:
        NetBoxLookupError: nothing matches (the message lists what exists in that scope)
            or more than one object matches.
    """
    matches = list(endpoint.filter(**{field: value}, **scope))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NetBoxLookupError(
            f"{option}={value!r}: no {what} with {field} {value!r} in NetBox; "
            f"existing {what} {field}s: {known_values(endpoint, field, **scope)}"
        )
    raise NetBoxLookupError(
        f"{option}={value!r}: {len(matches)} {what}s have {field} {value!r} "
        f"(ids {', '.join(str(m.id) for m in matches)}); make the name unique in NetBox"
    )


def slug_of(record):
    """The slug of a nested record (tenant, role), or None."""
    return getattr(record, "slug", None) if record else None
