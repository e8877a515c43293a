"""The sock_recv code paths of the interpreters and loops actually measured.

Read from the installed sources at run time (the selector loop from the
interpreter's asyncio, uvloop's from the ``loop.pyx`` its wheel ships), so the
README shows the code that produced the numbers beside them.
"""

from __future__ import annotations

import json
import subprocess

_PROBE = r"""
import inspect, json, pathlib, re, asyncio.selector_events as se
out = {"asyncio": inspect.getsource(se.BaseSelectorEventLoop.sock_recv)}
try:
    import uvloop
    pyx = pathlib.Path(uvloop.__file__).with_name("loop.pyx").read_text()
    start = r"\n(    async def sock_recv\(self, sock, n\):.*?)"
    m = re.search(start + r"\n    (?:@|async def|def|cdef)", pyx, re.S)
    out["uvloop"] = m.group(1) if m else None
except Exception as exc:
    out["uvloop"] = None
print(json.dumps(out))
"""


def _strip_docstring(src: str) -> str:
    lines, out, in_doc = src.splitlines(), [], False
    for line in lines:
        if line.strip().startswith('"""'):
            if not (line.strip().endswith('"""') and len(line.strip()) > 3):
                in_doc = not in_doc
            continue
        if not in_doc:
            out.append(line)
    return "\n".join(out)


def sock_recv_sources(python: str) -> dict[str, str | None]:
    """{'asyncio': source, 'uvloop': source or None} as installed for ``python``."""
    proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return {"asyncio": None, "uvloop": None, "error": proc.stderr.strip()[-500:]}
    data = json.loads(proc.stdout)
    return {k: _strip_docstring(v) if v else None for k, v in data.items()}
