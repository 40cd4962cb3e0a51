"""The NetBox installer's refusal when no suitable Python exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not Path("/usr/bin/python3").exists()
    or subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; sys.exit(sys.version_info >= (3, 12))"],
        check=False,
    ).returncode
    != 0,
    reason="needs a system python3 older than 3.12 to hide behind a minimal PATH",
)
def test_without_python_312_the_installer_says_how_to_get_one(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "lab" / "install_netbox.sh")],
        # A minimal PATH hides pyenv and /usr/local, leaving Debian 12's Python 3.11.
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SOP_CACHE": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "no Python >= 3.12 found" in proc.stderr
    assert "SOP_PYTHON" in proc.stderr
    assert not (tmp_path / "netbox-4.7.3" / "venv").exists()
