"""tagflow_cpp on free-threaded CPython 3.13t (built by `make pythons`): the wheel installs,
the module keeps the GIL off, and 8 threads rendering separate documents at once get exactly
the pages one thread gets. Skipped, with the reason shown, where 3.13t is not built."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from lab import pythons
from lab.paths import uv

PROJECT = Path(__file__).resolve().parents[1]
FREE_THREADED = pythons.free_threaded()

pytestmark = pytest.mark.skipif(
    FREE_THREADED is None, reason="free-threaded CPython 3.13t is not built (make pythons)"
)

SCRIPT = r"""
import json, sys, threading, warnings
warnings.simplefilter("error")  # "the GIL has been enabled ..." is a RuntimeWarning: fail
import tagflow_cpp
from tagflow_cpp import Document
from tagflow_cpp.compat import document, tag, text

def explicit(i):
    doc = Document()
    with doc.ul(class_=f"t{i}"):
        for j in range(2000):
            doc.li(f"{i}-{j} <&>", data_j=j)
    return doc.render()

def compat(i):
    with document() as root:
        with tag.ul(f"t{i}"):
            for j in range(500):
                with tag.li():
                    text(f"{i}-{j} <&>")
    return root.to_html()

barrier = threading.Barrier(8)
pages = {}
errors = []

def work(i):
    try:
        barrier.wait()
        for _ in range(10):
            pages[i] = (explicit(i), compat(i))
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
same = all(pages[i] == (explicit(i), compat(i)) for i in range(8))
print(json.dumps({"gil_enabled": sys._is_gil_enabled(), "errors": errors, "same": same,
                  "threads": len(pages)}))
"""


@pytest.fixture(scope="module")
def ft_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv on 3.13t with the tagflow_cpp wheel built for it (cp313-cp313t)."""
    assert FREE_THREADED is not None
    work = tmp_path_factory.mktemp("ft")
    subprocess.run(
        [uv(), "build", "--wheel", "--python", FREE_THREADED, "-o", str(work), str(PROJECT)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (wheel,) = work.glob("*.whl")
    assert re.search(r"-cp313-cp313t-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name
    venv = work / "venv"
    subprocess.run([uv(), "venv", "-q", "--python", FREE_THREADED, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "-q", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


def test_eight_threads_render_alike_with_the_gil_off(ft_python: Path) -> None:
    proc = subprocess.run(
        [str(ft_python), "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "GIL" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {"gil_enabled": False, "errors": [], "same": True, "threads": 8}
