"""How tagflow_cpp rendering scales with threads on one interpreter (run by experiment.py).

Each thread renders its own documents (a 1,000-row table, explicit API or compat) for a fixed
time; every thread count in a round runs back to back, the order alternating between rounds.
Prints one JSON object: per round and thread count the pages rendered, the wall time and the
process CPU time. Before timing, every thread's page is checked to equal the one-thread page,
and on a free-threaded build the GIL must stay off: the "GIL has been enabled" warning is an
error here.

    python ft_scaling.py --rounds 10 --seconds 1 --threads 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import threading
import time
import warnings

warnings.simplefilter("error")  # "the GIL has been enabled ..." is a RuntimeWarning: fail

from tagflow_cpp import Document  # noqa: E402
from tagflow_cpp.compat import document, tag, text  # noqa: E402

ROWS = 1000


def explicit(seed: int) -> str:
    doc = Document()
    doc.doctype()
    with doc.html(lang="en"), doc.body(), doc.table(class_="grid"):
        for i in range(ROWS):
            with doc.tr(data_row=i):
                doc.td(f"row {seed}-{i}")
                doc.td(f"<user {i} & co>")
                doc.td(i * 3, class_="num")
    return doc.render()


def compat(seed: int) -> str:
    with document() as root, tag.html(lang="en"), tag.body(), tag.table("grid"):
        for i in range(ROWS):
            with tag.tr(data_row=i):
                with tag.td():
                    text(f"row {seed}-{i}")
                with tag.td():
                    text(f"<user {i} & co>")
                with tag.td("num"):
                    text(i * 3)
    return root.to_html()


PAGES = {"explicit": explicit, "compat": compat}


def cell(page: str, threads: int, seconds: float) -> dict[str, float]:
    """``threads`` threads each rendering ``page`` for ``seconds``; pages done, wall, CPU."""
    render = PAGES[page]
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    errors: list[str] = []
    stop = threading.Event()

    def work(k: int) -> None:
        try:
            barrier.wait()
            n = 0
            while not stop.is_set():
                render(k)
                n += 1
            counts[k] = n
        except BaseException as exc:  # reported, and the run fails
            errors.append(f"thread {k}: {exc!r}")

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    cpu0 = time.process_time()
    barrier.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if errors:
        raise RuntimeError("; ".join(errors))
    return {"pages": sum(counts), "wall_s": wall, "cpu_s": cpu}


def check(threads: int) -> None:
    """Every thread's page, rendered all at once, equals the same page rendered alone."""
    for page, render in PAGES.items():
        expected = [render(k) for k in range(threads)]
        got: list[str | None] = [None] * threads
        barrier = threading.Barrier(threads)

        def work(k: int, render=render, got=got, barrier=barrier) -> None:
            barrier.wait()
            for _ in range(3):
                got[k] = render(k)

        pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if got != expected:
            raise SystemExit(f"ft_scaling: {page} pages from {threads} threads differ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.5, help="per cell (default 0.5)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    args = ap.parse_args()
    counts = [int(x) for x in args.threads.split(",")]
    if not counts or min(counts) < 1 or args.rounds < 1 or args.seconds <= 0:
        ap.error("need at least one round, a positive time and thread counts >= 1")
    check(max(counts))
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    if free_threaded and gil:
        raise SystemExit("ft_scaling: the GIL is enabled on a free-threaded build")
    rounds = []
    for r in range(args.rounds):
        for page in PAGES:
            order = counts if r % 2 == 0 else counts[::-1]
            for n in order:
                rounds.append({"round": r, "page": page, "threads": n,
                               **cell(page, n, args.seconds)})  # fmt: skip
    print(json.dumps({
        "python": sys.version.split()[0], "free_threaded": free_threaded, "gil_enabled": gil,
        "cpus": len(os.sched_getaffinity(0)), "rows": ROWS, "seconds": args.seconds,
        "cells": rounds,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
