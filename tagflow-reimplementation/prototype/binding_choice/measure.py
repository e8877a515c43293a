"""Times the two hot calls with the C API binding (tagflow_cpp) and the nanobind prototype.

Run with an interpreter that has both importable (see CMakeLists.txt for building nb_proto):
    PYTHONPATH=<nb build dir> python measure.py
Prints ns per call (best of 7 repeats) for each binding.
"""

from __future__ import annotations

import argparse
import json
import timeit

import nb_proto
import tagflow_cpp

N = 200_000


def bench(doc_type: type, repeat: int = 3) -> dict[str, float]:
    doc = doc_type()

    def with_div() -> None:
        with doc.div(class_="x"):
            pass

    def leaf() -> None:
        doc.td("value")

    out = {}
    for name, fn in (("with doc.div(class_='x')", with_div), ("doc.td(v)", leaf)):
        best = min(timeit.repeat(fn, number=N, repeat=repeat)) / N
        out[name] = best * 1e9
        if hasattr(doc, "clear"):
            doc.clear()
        else:
            doc = doc_type()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    # Interleaved rounds, best of all: the machine is shared, so compare minima taken side by side.
    rounds = args.rounds
    capi: dict[str, float] = {}
    nb: dict[str, float] = {}
    for _ in range(rounds):
        for store, doc_type in ((capi, tagflow_cpp.Document), (nb, nb_proto.Document)):
            for k, v in bench(doc_type).items():
                store[k] = min(v, store.get(k, v))
    if args.json:
        print(json.dumps({"capi_ns": capi, "nanobind_ns": nb, "rounds": rounds, "calls": N}))
        return
    print(f"{'call':28s} {'C API ns':>10s} {'nanobind ns':>12s} {'ratio':>7s}")
    for k in capi:
        print(f"{k:28s} {capi[k]:10.1f} {nb[k]:12.1f} {nb[k] / capi[k]:6.2f}x")


if __name__ == "__main__":
    main()
