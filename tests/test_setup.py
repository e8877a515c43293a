"""lab/setup.sh: what a user without root sees when something is missing, and the private uv.

Both tests run the script as an unprivileged user (``setpriv --reuid=65534``) when the suite runs
as root, which `make test` always does on this image, with a PATH that holds only the tools the
script needs (so never a `uv`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UV_VERSION = "0.13.9"
NOBODY = 65534
#: What lab/setup.sh and lab/uv.sh call, besides the bash builtins (Debian's python3 is
#: called by its absolute path).
TOOLS = ["bash", "dirname", "dpkg-query", "grep", "id", "mkdir"]
#: Passed through to setup.sh so pip reaches PyPI the way the rest of the machine does.
NETWORK_VARS = ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"]


def _as_unprivileged(cmd: list[str]) -> list[str]:
    """As root: ``cmd`` as user nobody (setpriv must exist: a skip would hide the test)."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test the non-root path"
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A temporary folder the unprivileged user can write (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="test-setup-"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tool_bin(folder: Path, *, stub_dpkg_query: bool) -> Path:
    """A bin folder with symlinks to TOOLS only; optionally a dpkg-query that says every package
    is installed, so the script goes straight to the uv step (and never to apt-get)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        if tool == "dpkg-query" and stub_dpkg_query:
            stub = bin_dir / tool
            stub.write_text("#!/bin/bash\nprintf 'install ok installed'\n")
            stub.chmod(0o755)
            continue
        found = shutil.which(tool)
        assert found, f"{tool} is not on PATH"
        (bin_dir / tool).symlink_to(found)
    bin_dir.chmod(0o755)
    return bin_dir


def _run_setup(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_unprivileged(["bash", "lab/setup.sh"]),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to run the script as another user")
def test_missing_package_without_root_prints_the_apt_command_and_stops(scratch: Path):
    env = {
        "PATH": str(_tool_bin(scratch, stub_dpkg_query=False)),
        "HOME": "/nonexistent",
        "SETUP_EXTRA_PACKAGES": "no-such-package-for-the-test",
    }
    result = _run_setup(env, timeout=60)
    assert result.returncode == 1, result.stderr
    # Other packages may be missing on a machine that was never set up: they come first.
    assert re.search(
        r"^setup: missing Debian packages: (\S+ )*no-such-package-for-the-test$",
        result.stderr,
        re.M,
    ), result.stderr
    assert re.search(
        r"^    sudo apt-get update && sudo apt-get install -y --no-install-recommends "
        r"(\S+ )*no-such-package-for-the-test$",
        result.stderr,
        re.M,
    ), result.stderr
    # No uv on PATH and no private one: how to get uv, too.
    venv = "/nonexistent/.cache/experiments/uv-venv"
    assert (
        f"    /usr/bin/python3 -m venv --clear {venv} && {venv}/bin/python -m pip install"
        f" --quiet --disable-pip-version-check uv=={UV_VERSION}\n"
    ) in result.stderr


@pytest.mark.timeout(120)
def test_without_uv_on_path_setup_installs_the_private_uv_once(scratch: Path):
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", "python3-venv"], capture_output=True, text=True
    )
    assert "install ok installed" in status.stdout, "python3-venv is missing: run `make setup`"

    cache = scratch / "cache"
    env = {
        "PATH": str(_tool_bin(scratch, stub_dpkg_query=True)),
        "HOME": str(scratch),  # pip's own cache goes here, not into the caller's
        "XDG_CACHE_HOME": str(cache),
        "SETUP_SKIP_SYNC": "1",
        **{k: os.environ[k] for k in NETWORK_VARS if k in os.environ},
    }
    venv = cache / "experiments" / "uv-venv"
    uv = venv / "bin" / "uv"

    # Both the Makefile and setup.sh take uv's path from lab/uv.sh.
    shown = subprocess.run(
        _as_unprivileged(["bash", "lab/uv.sh"]), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == f"{uv}\n"

    first = _run_setup(env, timeout=90)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"installing uv {UV_VERSION} into {venv}" in first.stdout
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.split()[:2] == ["uv", UV_VERSION]
    installed = uv.stat()

    started = time.monotonic()
    second = _run_setup(env, timeout=30)
    elapsed = time.monotonic() - started
    assert second.returncode == 0, second.stdout + second.stderr
    assert "installing" not in second.stdout + second.stderr
    assert (uv.stat().st_ino, uv.stat().st_mtime_ns) == (installed.st_ino, installed.st_mtime_ns)
    assert elapsed < 10, f"second run took {elapsed:.1f} s: it should only check"
