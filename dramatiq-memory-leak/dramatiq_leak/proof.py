"""Proof of the root cause, by code: the reference cycle that keeps a failed message's exception.

Runs in a variant's environment (``python -m dramatiq_leak.proof --failures N``):

1. disables the cyclic collector (``gc.disable()``), so only reference counting frees;
2. runs the real dramatiq machinery in this process (``dramatiq.Worker``, the
   ``RedisBroker`` on the harness's redis-server, the ``AsyncIO`` middleware, plus
   the variant's extra middleware) and sends one message to an async actor that
   raises :class:`~dramatiq_leak.worker_app.BigError`, with ``max_retries = N-1``
   so it fails N times and is then dead-lettered;
3. stops the worker (its threads are joined: nothing is in flight any more) and
   counts the exceptions still alive (weak references);
4. if one is alive, walks ``gc.get_referrers`` backwards from it, breadth-first,
   until it reaches the exception again, and prints the cycle forwards
   (exception -> traceback -> ... -> frame of ``run_coroutine`` -> ``future`` ->
   exception), naming each edge (attribute, local variable);
5. says where the retained bytes are: ``tracemalloc`` (started before the worker, 25 frames)
   takes a snapshot once the worker has stopped, and the largest allocation sites still
   alive are listed with the Python stack that made them, beside the process's RSS;
6. finally runs ``gc.collect()`` and counts again: a cycle is garbage the collector
   can free, a true leak would survive.

Prints one JSON document (also written to ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import sys
import time
import tracemalloc
import types
import uuid
from typing import Any

MB_DEFAULT = 8
#: Allocation sites listed by ``where_the_bytes_are`` (largest first) and frames shown per site.
TOP_SITES = 3
SITE_FRAMES = 4


def rss_mb() -> float:
    """This process's resident set (``/proc/self/statm``), in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def where_the_bytes_are(snapshot: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    """The largest live allocation sites of ``snapshot`` by traceback: MiB, blocks, and the
    innermost frames (file:line function), the snapshot machinery itself left out."""
    snapshot = snapshot.filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
        )
    )
    out = []
    for stat in snapshot.statistics("traceback")[:TOP_SITES]:
        frames = [  # a Traceback runs from the oldest frame to the newest: newest first here
            f"{fr.filename.rsplit('/', 1)[-1]}:{fr.lineno}"
            for fr in reversed(list(stat.traceback)[-SITE_FRAMES:])
        ]
        out.append({"mib": round(stat.size / (1 << 20), 2), "blocks": stat.count, "at": frames})
    return out


def _frames_of_this_stack() -> set[int]:
    ids = set()
    f: types.FrameType | None = sys._getframe()
    while f is not None:
        ids.add(id(f))
        f = f.f_back
    return ids


def find_cycle(target: object, max_depth: int = 16, max_nodes: int = 50_000) -> list[object]:
    """Shortest chain ``target -> a -> b -> ... -> target`` found through ``gc.get_referrers``.

    Breadth-first search backwards (from an object to the objects that refer to
    it). Returns the chain forwards, starting and ending with ``target``; empty if
    no cycle was found within the limits. Our own bookkeeping (this search's
    containers and the frames of the running stack) is excluded.
    """
    keep: dict[int, object] = {id(target): target}
    child: dict[int, int] = {}  # referrer id -> id of the object it refers to
    frontier: list[object] = [target]
    ignore = _frames_of_this_stack() | {id(keep), id(child)}
    for _ in range(max_depth):
        nxt: list[object] = []
        ignore.add(id(frontier))
        ignore.add(id(nxt))
        for node in frontier:
            refs = gc.get_referrers(node)
            ignore.add(id(refs))
            for r in refs:
                if id(r) in ignore or isinstance(r, types.ModuleType | type):
                    continue
                if r is target:  # target refers to node: the cycle is closed
                    chain = [target, node]
                    while chain[-1] is not target:
                        chain.append(keep[child[id(chain[-1])]])
                    return chain
                if id(r) in keep:
                    continue
                keep[id(r)] = r
                child[id(r)] = id(node)
                nxt.append(r)
                if len(keep) > max_nodes:
                    return []
            ignore.discard(id(refs))
            del refs
        ignore.discard(id(frontier))
        frontier = nxt
    return []


def referrer_types(objects: list[object]) -> list[str]:
    """What refers to ``objects`` (type names with counts), this search's own bookkeeping and
    the frames of the running stack excluded: said when no cycle is found from them."""
    ignore = _frames_of_this_stack() | {id(objects)}
    counts: dict[str, int] = {}
    for obj in objects:
        refs = gc.get_referrers(obj)
        ignore.add(id(refs))
        for r in refs:
            if id(r) in ignore:
                continue
            ignore.add(id(r))  # each referrer once, however many of them it holds
            name = (
                describe(r)
                if isinstance(r, types.FrameType)
                else (f"{type(r).__module__}.{type(r).__qualname__}")
            )
            counts[name] = counts.get(name, 0) + 1
        del refs
    return [f"{name} (x{n})" if n > 1 else name for name, n in sorted(counts.items())]


def describe(obj: object) -> str:
    if isinstance(obj, BaseException):
        payload = getattr(obj, "payload", None)
        size = f", holds {len(payload) >> 20} MiB" if payload is not None else ""
        return f"{type(obj).__module__}.{type(obj).__qualname__}{size}"
    if isinstance(obj, types.TracebackType):
        code = obj.tb_frame.f_code
        return f"traceback entry: {code.co_qualname} line {obj.tb_lineno}"
    if isinstance(obj, types.FrameType):
        code = obj.f_code
        return f"frame of {code.co_qualname} ({code.co_filename.rsplit('/', 1)[-1]})"
    kind = type(obj)
    extra = ""
    if kind.__name__ == "Future":
        extra = f" (state {getattr(obj, '_state', '?')})"
    return f"{kind.__module__}.{kind.__qualname__}{extra}"


def edge(src: object, dst: object) -> str:
    """How ``src`` refers to ``dst`` (attribute, local variable, item)."""
    if isinstance(src, BaseException):
        for name in ("__traceback__", "__cause__", "__context__"):
            if getattr(src, name) is dst:
                return name
    if isinstance(src, types.TracebackType):
        if src.tb_next is dst:
            return "tb_next"
        if src.tb_frame is dst:
            return "tb_frame"
    if isinstance(src, types.FrameType):
        if src.f_back is dst:
            return "f_back"
        for name, value in src.f_locals.items():  # the frame has returned: a snapshot
            if value is dst:
                return f"local variable {name!r}"
    if isinstance(src, dict):
        for k, v in src.items():
            if v is dst:
                return f"[{k!r}]"
    if isinstance(src, list | tuple):
        for i, v in enumerate(src):
            if v is dst:
                return f"[{i}]"
    for name, value in getattr(src, "__dict__", {}).items():
        if value is dst:
            return f"attribute {name!r}"
    return "(internal reference)"


def run(failures: int, mb: int) -> dict[str, Any]:
    gc.disable()
    tracemalloc.start(25)
    rss_before = rss_mb()
    import dramatiq

    from dramatiq_leak import probe as probe_mod
    from dramatiq_leak import worker_app as app

    queue = app.QUEUE
    worker = dramatiq.Worker(app.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    started = time.monotonic()
    try:
        app.fail_async.send_with_options(
            args=(mb,), max_retries=failures - 1, min_backoff=1, max_backoff=10
        )
        deadline = started + 60
        while app.probe.failures < failures:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {app.probe.failures} of {failures} failures in 60 s")
            time.sleep(0.01)
    finally:
        worker.stop()  # joins the worker threads: no frame of process_message is left
    elapsed = time.monotonic() - started
    dead = app.broker.client.hlen(f"{app.broker.namespace}:{queue}.XQ.msgs")

    result: dict[str, Any] = {
        "dramatiq": dramatiq.__version__,
        "extra_middleware": app.EXTRA,
        "gc_enabled": gc.isenabled(),
        "failures": app.probe.failures,
        "dead_lettered": dead,
        "seconds": round(elapsed, 2),
        "live_after_processing": probe_mod.live_count(),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_processing_mb": round(rss_mb(), 1),
        "traced_after_processing_mib": round(tracemalloc.get_traced_memory()[0] / (1 << 20), 2),
        "top_sites": where_the_bytes_are(tracemalloc.take_snapshot()),
        "cycle": [],
    }
    alive = probe_mod.live_objects()
    if alive:
        exc = alive[-1]
        del alive
        chain = find_cycle(exc)
        result["cycle"] = [
            {"object": describe(obj), "refers_to_next_by": edge(obj, nxt)}
            for obj, nxt in itertools.pairwise(chain)
        ] + ([{"object": describe(chain[-1]), "refers_to_next_by": None}] if chain else [])
        result["cycle_closes_on_itself"] = bool(chain) and chain[0] is chain[-1]
        del chain, exc
        if not result["cycle"]:
            alive = probe_mod.live_objects()
            result["referrers"] = referrer_types(alive)
            del alive
    else:
        del alive
    result["collected_by_gc_collect"] = gc.collect()
    result["live_after_gc_collect"] = probe_mod.live_count()
    result["traced_after_gc_collect_mib"] = round(tracemalloc.get_traced_memory()[0] / (1 << 20), 2)
    result["rss_after_gc_collect_mb"] = round(rss_mb(), 1)
    tracemalloc.stop()
    return result


def render(result: dict[str, Any]) -> str:
    """The cycle as text, one object per line."""
    lines = [
        f"dramatiq {result['dramatiq']} (extra middleware: {result['extra_middleware']}), "
        f"gc disabled, {result['failures']} failure(s) processed:",
        f"  exceptions still alive: {result['live_after_processing']}",
    ]
    for step in result["cycle"]:
        lines.append(f"  {step['object']}")
        if step["refers_to_next_by"]:
            lines.append(f"      --({step['refers_to_next_by']})-->")
    if not result["cycle"]:
        n = result["live_after_processing"]
        if n == 0:
            lines.append("  (no exception alive: nothing keeps it, reference counting freed it)")
        else:
            refs = ", ".join(result.get("referrers") or []) or "nothing the collector can see"
            lines.append(f"  {n} alive, no cycle found from them; they are referenced by {refs}")
    if "top_sites" not in result:  # a proof from before tracemalloc was part of it
        lines.append(f"  after gc.collect(): {result['live_after_gc_collect']} alive")
        return "\n".join(lines)
    lines.append(
        f"  where the bytes are (tracemalloc, after processing): "
        f"{result['traced_after_processing_mib']:.1f} MiB traced, RSS "
        f"{result['rss_after_processing_mb']:.0f} MB (before the worker "
        f"{result['rss_before_mb']:.0f} MB); largest sites:"
    )
    for site in result["top_sites"]:
        lines.append(
            f"    {site['mib']:8.2f} MiB in {site['blocks']} blocks at {' <- '.join(site['at'])}"
        )
    lines.append(
        f"  after gc.collect(): {result['live_after_gc_collect']} alive, "
        f"{result['traced_after_gc_collect_mib']:.1f} MiB traced, RSS "
        f"{result['rss_after_gc_collect_mb']:.0f} MB"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dramatiq_leak.proof", description=__doc__)
    p.add_argument("--failures", type=int, default=1, help="failures to process (default 1)")
    p.add_argument("--mb", type=int, default=MB_DEFAULT, help="MiB held by each exception")
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args(argv)
    if a.failures < 1:
        p.error("--failures must be at least 1")
    import os

    os.environ.setdefault("DLEAK_QUEUE", f"proof-{uuid.uuid4().hex[:8]}")
    result = run(a.failures, a.mb)
    result["text"] = render(result)
    doc = json.dumps(result, indent=2)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(doc + "\n")
    print(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
