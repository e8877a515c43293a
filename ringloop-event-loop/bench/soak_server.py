"""A ringloop echo server (asyncio.Protocol) for the leak soak; run by an interpreter with
ringloop installed, not imported by the lab.

    python soak_server.py --port 9000

Prints ``listening on 127.0.0.1:PORT`` once it accepts, serves until SIGTERM, then closes the
server, waits until every connection is lost (at most 10 s) and prints one JSON line: the open
file descriptors before the server was created and after it stopped, and the RSS then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from typing import Any

import ringloop

LIVE: set[Echo] = set()


class Echo(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        LIVE.add(self)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        LIVE.discard(self)


def open_fds() -> list[int]:
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def serve(port: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    before = open_fds()
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=1024)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await stop
    server.close()
    await server.wait_closed()
    for proto in list(LIVE):
        proto.transport.close()
    for _ in range(1000):
        if not LIVE:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # connection_lost runs the socket's close() just after
    loop.remove_signal_handler(signal.SIGTERM)
    return {"fds_before": before, "fds_after": open_fds(), "connections_left": len(LIVE),
            "rss_kib": rss_kib()}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    print(json.dumps(ringloop.run(serve(args.port))), flush=True)


if __name__ == "__main__":
    main()
