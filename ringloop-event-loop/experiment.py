"""ringloop-event-loop: the `lab` plug-in (see lab/experiment.py).

Two questions about ringloop itself (its speed is measured in the uvloop experiment, as a
fourth loop beside asyncio, uvloop and rloop):

conformance  CPython's own asyncio test modules, as installed with each interpreter, run against
             ringloop and against uvloop 0.23.0 (conformance.py: the modules' loop-factory hooks,
             one child process per module with a time limit). Per module: run, passed, failed,
             errors, skipped, and the failures that come from a test reading asyncio's private
             loop attributes.
soak         a ringloop echo server (bench/soak_server.py, asyncio.Protocol) pinned to CPU 0,
             driven by echoload on CPU 1 (64 connections, 1,000 B, every byte verified); its RSS
             sampled twice a second; after the clients leave it closes and reports its open file
             descriptors.

Full mode (~15 min here): every module with a 120 s limit per module (uvloop's
test_sock_lowlevel hangs: it costs the limit), 10 million requests per interpreter. Quick mode
(~2 min): four short modules, 400,000 requests. Interpreters: the lab's (3.11
and `lab pythons`' 3.13).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lab.experiment import Context
from lab.tables import markdown
from lab.verdicts import Verdict, verdict

TITLE = "ringloop: CPython's asyncio test suites against ringloop and uvloop, and a leak soak"
ISSUE = 17

HERE = Path(__file__).resolve().parent
LOOPS = ("ringloop", "uvloop")
UVLOOP = "uvloop==0.23.0"
QUICK_MODULES = ("test_buffered_proto", "test_server", "test_protocols", "test_events")
#: The longest module (test_tasks) takes ~25 s on either loop here: 120 s means a hang.
MODULE_LIMIT_S = {"quick": 120.0, "full": 120.0}
SOAK_CONNECTIONS = 64
SOAK_REQUESTS = {"quick": 400_000, "full": 10_000_000}
SOAK_SIZE = 1000
#: RSS is flat when it grows by at most this much between 10 % of the requests and the end.
RSS_FLAT_KIB = 2048


def _venv(python: str, log: Any) -> Path:
    from lab.venvs import Step, ensure, tree_stamp

    steps = [Step((str(HERE),), what="ringloop"), Step((UVLOOP,))]
    fingerprint = [tree_stamp(HERE / d) for d in ("src", "python")]
    fingerprint.append(tree_stamp(HERE, (".toml", ".txt")))
    return ensure("ringloop", python, steps, fingerprint=fingerprint, log=log).python


def _conformance(ctx: Context, python: Path, loop: str) -> dict[str, Any]:
    modules = QUICK_MODULES if ctx.quick else ()
    fd, name = tempfile.mkstemp(suffix=".json")  # in the run's private TMPDIR
    os.close(fd)
    out = Path(name)
    out.unlink()
    cmd = [str(python), str(HERE / "conformance.py"), "--loop", loop, "--json", str(out)]
    cmd += ["--timeout", str(MODULE_LIMIT_S[ctx.mode])]
    for m in modules:
        cmd += ["--module", m]
    proc = ctx.procs.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=3 * 3600
    )
    if not out.is_file():
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        return {"loop": loop, "error": f"conformance.py exit {proc.returncode}: {tail}"}
    data = json.loads(out.read_text())
    out.unlink()
    return {"loop": loop, "python": data["python"].split()[0], "modules": data["modules"]}


def _rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _soak(ctx: Context, python: Path) -> dict[str, Any]:
    from lab.paths import built
    from lab.procs import free_port, wait_for_port

    echoload = built("uvloop-updated-benchmark", "echoload")
    total = SOAK_REQUESTS[ctx.mode]
    port = free_port()
    server = ctx.procs.popen(
        ["taskset", "-c", "0", str(python), str(HERE / "bench" / "soak_server.py"),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_port(port, proc=server, timeout=30)
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            if (rss := _rss_kib(server.pid)) is not None:
                samples.append((time.monotonic(), rss))

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.monotonic()
    sampler.start()
    load = ctx.procs.run(
        ["taskset", "-c", "1", str(echoload), "--port", str(port), "-c", str(SOAK_CONNECTIONS),
         "-s", str(SOAK_SIZE), "--requests", str(total // SOAK_CONNECTIONS), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1800,
    )  # fmt: skip
    end = time.monotonic()
    done.set()
    sampler.join()
    ctx.procs.stop(server, grace=15)
    out, err = server.communicate()
    report = None
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            report = json.loads(line)
            break
    result: dict[str, Any] = {
        "requests_asked": total,
        "echoload_exit": load.returncode,
        "server_exit": server.returncode,
        "seconds": round(end - start, 1),
        # (share of the soak's time, RSS KiB): requests arrive at a steady rate, so time
        # stands in for the request count
        "rss": [(round((t - start) / (end - start), 4), kib) for t, kib in samples],
        "server": report,
    }
    try:
        ran = json.loads(load.stdout)
        result |= {"requests": ran["requests"], "verified": ran["verified"],
                   "req_per_s": ran["req_per_s"]}  # fmt: skip
    except (ValueError, KeyError):
        result["echoload_error"] = (load.stderr or load.stdout).strip()[-500:]
    if report is None:
        result["server_error"] = err.strip()[-500:]
    return result


def _rss_growth(soak: dict[str, Any]) -> int | None:
    """KiB between the first sample after 10 % of the soak and the last one."""
    rss = [kib for share, kib in soak.get("rss", []) if share >= 0.1]
    return rss[-1] - rss[0] if len(rss) >= 2 else None


def run(ctx: Context) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    ctx.progress.set_total(len(ctx.pythons) * (len(LOOPS) + 1))
    for exe in ctx.pythons:
        entry: dict[str, Any] = {"exe": exe, "conformance": [], "soak": None}
        rows.append(entry)
        try:
            python = _venv(exe, ctx.log)
        except Exception as exc:  # lab.venvs.VenvError, a missing interpreter
            entry["error"] = f"environment: {exc}"
            ctx.progress.advance(len(LOOPS) + 1)
            continue
        for loop in LOOPS:
            ctx.progress.describe(f"{Path(exe).name}: CPython's asyncio tests on {loop}")
            entry["conformance"].append(_conformance(ctx, python, loop))
            ctx.progress.advance()
        ctx.progress.describe(f"{Path(exe).name}: soak, {SOAK_REQUESTS[ctx.mode]:,} requests")
        entry["soak"] = _soak(ctx, python)
        ctx.progress.advance()
    results: dict[str, Any] = {"pythons": rows, "config": {
        "modules_limit_s": MODULE_LIMIT_S[ctx.mode], "uvloop": UVLOOP,
        "soak": {"connections": SOAK_CONNECTIONS, "size": SOAK_SIZE,
                 "requests": SOAK_REQUESTS[ctx.mode]}}}  # fmt: skip
    results["verdicts"] = decide(results)
    return results


def _counts(c: dict[str, Any]) -> dict[str, int]:
    done = [m for m in c.get("modules", []) if "error" not in m]
    keys = ("run", "passed", "failures", "errors", "skipped")
    out = {k: sum(int(m[k]) for m in done) for k in keys}
    out["failed"] = out["run"] - out["passed"] - out["skipped"]
    out["did_not_finish"] = len(c.get("modules", [])) - len(done)
    return out


def _version(entry: dict[str, Any]) -> str:
    for c in entry["conformance"]:
        if c.get("python"):
            return str(c["python"])
    return entry["exe"]


def decide(results: dict[str, Any]) -> list[Verdict]:
    out = []
    for entry in results["pythons"]:
        by_loop = {c["loop"]: c for c in entry["conformance"] if "error" not in c}
        v = _version(entry)
        if "ringloop" in by_loop:
            n = _counts(by_loop["ringloop"])
            failed = [t for m in by_loop["ringloop"]["modules"] for t in m.get("failed_tests", [])]
            answer = (
                "yes"
                if n["failed"] == 0 and n["did_not_finish"] == 0
                else f"no: {n['failed']} failed, {n['did_not_finish']} modules did not finish"
            )
            out.append(verdict(
                f"Does ringloop pass CPython {v}'s asyncio tests that run on it?", answer,
                f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped of "
                f"{n['run']}" + (f" ({', '.join(failed[:5])})" if failed else ""),
                "yes when no test fails or errors and every module finishes",
            ))  # fmt: skip
        if "ringloop" in by_loop and "uvloop" in by_loop:
            r, u = _counts(by_loop["ringloop"]), _counts(by_loop["uvloop"])
            out.append(verdict(
                f"Does ringloop fail fewer of CPython {v}'s asyncio tests than uvloop?",
                "yes"
                if r["failed"] < u["failed"] and r["did_not_finish"] <= u["did_not_finish"]
                else "no",
                f"ringloop {r['failed']} failed, {r['did_not_finish']} modules unfinished; "
                f"uvloop {u['failed']} failed, {u['did_not_finish']} modules unfinished",
                "yes when ringloop fails fewer tests and leaves no more modules unfinished (a "
                "hang or a crash)",
            ))  # fmt: skip
        soak = entry.get("soak") or {}
        growth = _rss_growth(soak)
        if growth is not None and soak.get("verified"):
            out.append(verdict(
                f"Is ringloop's RSS flat over {soak['requests']:,} echoed requests (Python {v})?",
                "yes" if growth <= RSS_FLAT_KIB else "no: it grows",
                f"{growth:+,} KiB from 10 % of the requests to the end "
                f"({soak['rss'][0][1]:,} KiB at the start)",
                f"flat when it grows by at most {RSS_FLAT_KIB:,} KiB",
                limit_kib=RSS_FLAT_KIB,
            ))  # fmt: skip
        server = soak.get("server") or {}
        if server:
            left = sorted(set(server["fds_after"]) - set(server["fds_before"]))
            out.append(verdict(
                f"Are all of ringloop's file descriptors closed after its server stops "
                f"(Python {v})?",
                "yes" if not left and not server["connections_left"] else "no",
                f"{len(server['fds_before'])} open before the server, "
                f"{len(server['fds_after'])} after it stopped"
                + (f"; left open: {left}" if left else ""),
                "yes when the descriptors after are those before and no connection is left",
            ))  # fmt: skip
    return out


def errors(results: dict[str, Any]) -> list[str]:
    """Figures that cannot be trusted: ringloop's own failures are findings (its verdict says
    no), a harness that could not measure is an error; uvloop's hangs are findings."""
    out = []
    for entry in results.get("pythons", []):
        exe = entry["exe"]
        if entry.get("error"):
            out.append(f"{exe}: {entry['error']}")
            continue
        for c in entry["conformance"]:
            if "error" in c:
                out.append(f"{exe}: conformance for {c['loop']} did not run: {c['error']}")
            elif c["loop"] == "ringloop":
                out += [f"{exe}: ringloop {m['module']} did not finish: {m['error']}"
                        for m in c["modules"] if "error" in m]  # fmt: skip
        soak = entry.get("soak") or {}
        if soak.get("echoload_exit") != 0 or not soak.get("verified"):
            out.append(f"{exe}: soak: echoload exit {soak.get('echoload_exit')}, "
                       f"{soak.get('echoload_error', 'not verified')}")  # fmt: skip
        elif soak.get("requests") != soak.get("requests_asked"):
            out.append(f"{exe}: soak: {soak.get('requests')} of {soak['requests_asked']} requests")
        if not soak.get("server"):
            out.append(f"{exe}: soak: the server did not report ({soak.get('server_error')})")
        if _rss_growth(soak) is None:
            out.append(f"{exe}: soak: fewer than two RSS samples")
    return out


def measurement_count(results: dict[str, Any]) -> int:
    n = 0
    for entry in results.get("pythons", []):
        n += sum(len(c.get("modules", [])) for c in entry.get("conformance", []))
        n += 1 if (entry.get("soak") or {}).get("verified") else 0
    return n


def summarize(results: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for entry in results.get("pythons", []):
        for c in entry.get("conformance", []):
            if "error" not in c:
                n = _counts(c)
                rows.append((f"{c['loop']} on CPython {c['python']}'s asyncio tests",
                             f"{n['passed']} passed, {n['failed']} failed, "
                             f"{n['did_not_finish']} unfinished"))  # fmt: skip
    return rows


def readme_sections(results: dict[str, Any]) -> dict[str, str]:
    rows = []
    for entry in results.get("pythons", []):
        for c in entry.get("conformance", []):
            for m in c.get("modules", []):
                if "error" in m:
                    rows.append([c.get("python", "?"), c["loop"], m["module"],
                                 "did not finish: " + m["error"].splitlines()[0], "", "", "", "",
                                 ""])  # fmt: skip
                    continue
                failed = m["run"] - m["passed"] - m["skipped"]
                rows.append([c["python"], c["loop"], m["module"], m["run"], m["passed"], failed,
                             m["skipped"], len(m["internals"]), m["loops_created"]])  # fmt: skip
    conformance = markdown(
        ["Python", "loop", "module", "run", "passed", "failed", "skipped",
         "of them asyncio internals", "loops created"], rows)  # fmt: skip
    soak_rows = []
    for entry in results.get("pythons", []):
        s = entry.get("soak") or {}
        server = s.get("server") or {}
        growth = _rss_growth(s)
        soak_rows.append([
            _version(entry), f"{s.get('requests', 0):,}", f"{s.get('req_per_s', 0):,.0f}",
            "yes" if s.get("verified") else "no",
            f"{s['rss'][0][1]:,}" if s.get("rss") else "–",
            f"{s['rss'][-1][1]:,}" if s.get("rss") else "–",
            f"{growth:+,}" if growth is not None else "–",
            f"{len(server.get('fds_before', []))} / {len(server.get('fds_after', []))}",
        ])  # fmt: skip
    soak = markdown(["Python", "requests", "req/s", "bytes verified", "RSS at start (KiB)",
                     "RSS at end (KiB)", "growth after 10 % (KiB)",
                     "descriptors before / after"], soak_rows)  # fmt: skip
    from lab.verdicts import table

    return {"answers": table(results.get("verdicts", [])), "conformance": conformance,
            "soak": soak}  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it with `uv run --frozen lab run ringloop-event-loop`")
