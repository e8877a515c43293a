"""A quick, unpublished look at server CPU per request: asyncio, uvloop and ringloop echo
servers at saturation, driven by the uvloop experiment's echoload, interleaved by round.

    python ringloop-event-loop/bench/quick_compare.py --python VENV/bin/python --rounds 4

VENV must have ringloop and uvloop installed (`uv pip install ./ringloop-event-loop uvloop`).
The server runs on CPU 0, echoload on CPU 1 (`make build` builds echoload). Medians of the
rounds, no intervals: for deciding what to work on, not for publishing. The published
comparison is the uvloop experiment's saturation mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOOPS = ("asyncio", "uvloop", "ringloop")
APIS = ("sockets", "streams", "protocol")

SERVER = r"""
import asyncio, socket, sys
loop_name, api, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if loop_name == "uvloop":
    import uvloop; loop = uvloop.new_event_loop()
elif loop_name == "ringloop":
    import ringloop; loop = ringloop.new_event_loop()
else:
    loop = asyncio.new_event_loop()

def nodelay(s):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

class Echo(asyncio.Protocol):
    def connection_made(self, t):
        nodelay(t.get_extra_info("socket")); self.t = t
    def data_received(self, d):
        self.t.write(d)

async def stream(r, w):
    nodelay(w.get_extra_info("socket"))
    while d := await r.read(262144):
        w.write(d); await w.drain()
    w.close()

async def sock_echo(c):
    with c:
        while d := await loop.sock_recv(c, 262144):
            await loop.sock_sendall(c, d)

async def main():
    if api == "protocol":
        await loop.create_server(Echo, "127.0.0.1", port, backlog=1024)
    elif api == "streams":
        await asyncio.start_server(stream, "127.0.0.1", port, backlog=1024)
    else:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen(1024); s.setblocking(False)
        async def accept():
            while True:
                c, _ = await loop.sock_accept(s); c.setblocking(False); nodelay(c)
                loop.create_task(sock_echo(c))
        loop.create_task(accept())
    print("ready", flush=True)
    await asyncio.Event().wait()

loop.run_until_complete(main())
"""


def measure(python: str, echoload: Path, loop: str, api: str, port: int, conns: int) -> dict:
    srv = subprocess.Popen(
        ["taskset", "-c", "0", python, "-c", SERVER, loop, api, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if srv.stdout is None or srv.stdout.readline().strip() != "ready":
            raise SystemExit(f"{loop} {api}: the server did not start")
        cmd = ["taskset", "-c", "1", str(echoload), "--port", str(port), "-c", str(conns)]
        cmd += ["-s", "1000", "--warmup", "0.5", "--duration", "2"]
        cmd += ["--server-pid", str(srv.pid), "--json"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        srv.terminate()
        srv.wait()
    if out.returncode != 0:
        raise SystemExit(f"{loop} {api}: echoload failed:\n{out.stderr[-800:]}")
    result: dict = json.loads(out.stdout)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--python", required=True, help="interpreter with ringloop and uvloop")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument(
        "--echoload", type=Path, default=ROOT / "build/release/uvloop-updated-benchmark/echoload"
    )
    args = p.parse_args()
    runs: dict[tuple[str, str], list[dict]] = {}
    port = 9400
    for rnd in range(args.rounds):
        for api in APIS:
            order = LOOPS[rnd % 3 :] + LOOPS[: rnd % 3]  # rotate who goes first
            for loop in order:
                port += 1
                r = measure(args.python, args.echoload, loop, api, port, args.connections)
                runs.setdefault((api, loop), []).append(r)
                print(f"round {rnd + 1} {api} {loop}: {r['req_per_s']:.0f} req/s", file=sys.stderr)
    print(f"{'API':9} {'loop':9} {'req/s':>8} {'server µs/req':>14} {'client core':>12}")
    for (api, loop), rs in sorted(runs.items()):
        rps = statistics.median(r["req_per_s"] for r in rs)
        us = statistics.median(r["server"]["cpu_s"] / r["requests"] * 1e6 for r in rs)
        client = statistics.median(max(t["cpu_s"] for t in r["threads"]) / r["seconds"] for r in rs)
        flag = "  (client-bound)" if client >= 0.85 else ""
        print(f"{api:9} {loop:9} {rps:8.0f} {us:14.2f} {client:12.2f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
