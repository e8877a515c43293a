"""lab/setup.sh: what a user without root sees when a Debian package is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_missing_package_without_root_prints_the_apt_command_and_stops():
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "SETUP_EXTRA_PACKAGES": "no-such-package-for-the-test",
    }
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "lab/setup.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "missing Debian packages: no-such-package-for-the-test" in result.stderr
    assert "apt-get install -y --no-install-recommends no-such-package-for-the-test" in (
        result.stderr
    )
