"""The original study's client, for the cross-check: processes with blocking sockets.

Like uvloop's examples/bench/echoclient.py: WORKERS processes, each with one
blocking TCP socket (TCP_NODELAY), strict ping-pong: send a message, read
until the whole echo is back. Unlike it, every echo is compared with what was
sent, and two timings are reported:

wall_req_per_s   all messages / wall time including process start-up (the original's figure)
loop_req_per_s   all messages / the slowest worker's send-receive loop alone

plus the CPU time the workers used (to tell whether the client was the bottleneck).
Standalone (standard library only):

    python pyclient.py --port 8000 --size 1000 --messages 20000 --workers 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import sys
import time


def worker(host: str, port: int, size: int, messages: int) -> tuple[float, float]:
    """Runs one connection's ping-pong; returns (loop seconds, CPU seconds)."""
    msg = bytes((i * 7 + 3) % 256 for i in range(size))
    cpu0 = time.process_time()
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        for n in range(messages):
            sock.sendall(msg)
            got = bytearray()
            while len(got) < size:
                chunk = sock.recv(size - len(got))
                if not chunk:
                    raise ConnectionError(f"server closed the connection after {n} echoes")
                got += chunk
            if got != msg:
                raise ValueError(f"echo {n} differs from what was sent")
        t1 = time.perf_counter()
    return t1 - t0, time.process_time() - cpu0


def run(host: str, port: int, size: int, messages: int, workers: int) -> dict:
    start = time.perf_counter()
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        parts = pool.starmap(worker, [(host, port, size, messages)] * workers)
    wall = time.perf_counter() - start
    total = messages * workers
    loop_s = max(p[0] for p in parts)
    cpu = sum(p[1] for p in parts)
    return {
        "workers": workers,
        "size": size,
        "messages": total,
        "wall_s": wall,
        "wall_req_per_s": total / wall,
        "loop_s": loop_s,
        "loop_req_per_s": total / loop_s,
        "client_cpu_s": cpu,
        "client_cpu_cores": cpu / loop_s,
        "verified": True,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--messages", type=int, default=10000, help="per worker")
    p.add_argument("--workers", type=int, default=3)
    args = p.parse_args(argv)
    if args.size < 1 or args.messages < 1 or args.workers < 1:
        p.error("--size, --messages and --workers must be positive")
    try:
        result = run(args.host, args.port, args.size, args.messages, args.workers)
    except (OSError, ValueError) as exc:
        print(f"pyclient: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
