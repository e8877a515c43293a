"""What a run measures: the interpreters, the contenders and the groups, per mode.

Every comparison is made inside a :class:`~uvloop_bench.runner.Group`: all its servers run for
the whole group and each repetition gives one window to each contender, in rotating order, so
the ratios between loops (and between interpreters) are paired by repetition.

Sections:

saturation  the primary result. Enough connections (calibrated: the smallest of 16, 64, 256
            that keeps the fastest Python server >= 95 % busy) that the server's core is
            saturated; server CPU µs per request over the measured window and requests/s. The
            C++ epoll and io_uring servers run in the protocol groups as the floor, at a fixed
            rate one client thread sustains, beside the newest interpreter's loops at that
            same rate (CPU per request is only comparable under the same load).
pingpong    the original study's question: 3 connections, one request in flight each. Bound
            by round-trip latency (cross-core wake-ups), not by the loop's CPU; p50/p99. The
            protocol group also runs the C++ servers and the epoll one busy polling, and for
            the floor the C++ servers and the newest interpreter's loops at one fixed rate
            over the same 3 connections (in closed loop a faster server is woken for more of
            its requests, so CPU per request there measures speed as much as work).
http        HTTP/1.1 keep-alive (uvloop's own headline workload): httptools on a Protocol and
            asyncio streams per loop, saturated; the C++ epoll HTTP server and the newest
            interpreter's httptools servers at one fixed rate.

The loops: asyncio, uvloop, rloop and ringloop (this repository's, ringloop-event-loop/).

Full mode (~82 min here): 10 repetitions of 2 s windows (0.2 s warm-up) everywhere;
saturation on all four APIs x 1,000/10,000/100,000 B on the distribution-style interpreters
(PGO+LTO: Debian's python3.11, `lab pythons`' 3.13), plus the builds without PGO (the lab's pyenv
3.11, `lab pythons --plain` 3.13) at 1,000 B; ping-pong on all four APIs at 1,000 B with uvloop
0.21.0, the original's, beside; HTTP at 1,000 B bodies. Cut to fit a session: the builds
without PGO at 10,000/100,000 B, and ping-pong at 10,000/100,000 B (issue #14 asks for at least
10 repetitions of at least 2 s, so a fourth loop costs time rather than windows).
Quick mode (~3 min): 3 repetitions of 0.3 s, 1,000 B, the interpreters `lab` was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uvloop_bench.runner import Group, Load, Server

LOOPS = ("asyncio", "uvloop", "rloop", "ringloop")
APIS = ("sockets", "streams", "protocol", "buffered")
HTTP_APIS = ("http-httptools", "http-streams")
ORIGINAL_APIS = ("sockets", "streams", "protocol")
SIZES = (1000, 10000, 100000)
CONNECTIONS = (16, 64, 256)
#: The C++ servers are driven at a fixed rate (open loop) that one echoload thread sustains with
#: headroom, not to saturation: a closed loop against them would saturate the client (an invalid
#: window). CPU per request depends on the load (below saturation a wake-up serves fewer
#: requests), so the floor is judged against the Python loops driven at the same rate, beside
#: them in the same group (contenders named "... at the C++ rate").
#: 20,000 at 1,000 B: at 25,000 echoload's open loop over 256 connections used 0.83-0.89 of a
#: core (the published run of 2026-11-27), which makes those windows invalid (client-bound).
FLOOR_RATE = {1000: 20000.0, 10000: 12000.0, 100000: 4000.0}
AT_RATE = "at the C++ rate"
PINGPONG_CONNECTIONS = 3
#: In the protocol ping-pong group: the C++ servers, and the epoll one busy polling (epoll_wait
#: never sleeps), which shows how much of a blocking server's round trip is being woken up.
PINGPONG_ENGINES = ("epoll", "io_uring", "epoll-busy")
#: The ping-pong floor: the C++ servers and the newest interpreter's loops over the same 3
#: connections at this rate, far below every one's closed-loop rate (the slowest Python loop in
#: the protocol ping-pong of the published run of 2026-11-27 17:00 did 28,000 req/s), so each
#: serves every request alike: one wake-up, one receive, one send.
PINGPONG_FLOOR_RATE = 10000.0
#: Contender name of a C++ server at the fixed rate where it also runs in closed loop.
AT_FIXED_RATE = "at a fixed rate"
FLOOR_CPP = ("epoll", "io_uring")


@dataclass(frozen=True)
class Mode:
    name: str
    reps: int
    warmup: float
    duration: float
    sizes: tuple[int, ...]
    pingpong_sizes: tuple[int, ...]
    plain_sizes: tuple[int, ...]  # where the builds without PGO run beside
    #: Seconds of the second window every floor contender gets per round, with perf sampling
    #: its user-space CPU (runner.Load.sampled).
    sampled: float


QUICK = Mode(
    "quick",
    reps=3,
    warmup=0.1,
    duration=0.3,
    sizes=(1000,),
    pingpong_sizes=(1000,),
    plain_sizes=(1000,),
    sampled=0.3,
)
FULL = Mode(
    "full",
    reps=10,
    warmup=0.2,
    duration=2.0,
    sizes=SIZES,
    pingpong_sizes=(1000,),
    plain_sizes=(1000,),
    sampled=0.5,
)


def contender(p: dict[str, Any], loop: str) -> str:
    """``"3.13.5 pgo uvloop"``: interpreter version, build, loop."""
    return f"{p['version']} {p['build']} {loop}"


def _server(p: dict[str, Any], loop: str, api: str, python: str | None = None) -> Server:
    return Server(
        python=python or p["venv_python"],
        python_version=p["version"],
        loop=loop,
        api=api,
        build=p["build"],
    )


def _python_contenders(
    pythons: list[dict[str, Any]], api: str, loops: tuple[str, ...] = LOOPS
) -> dict[str, Server]:
    return {
        contender(p, loop): _server(p, loop, api)
        for p in pythons
        for loop in loops
        if loop in p["loops"]
    }


def groups(
    mode: Mode,
    pythons: list[dict[str, Any]],
    connections: dict[int, int],
) -> list[Group]:
    """Every group of a run, in the order they are measured.

    ``pythons``: the prepared interpreters (``main`` True for the distribution-style builds
    measured everywhere; False for the builds compared with them at ``mode.plain_sizes``).
    ``connections``: saturation connections per size (from calibration).
    """
    main = [p for p in pythons if p["main"]]
    plain = [p for p in pythons if not p["main"]]
    load = {"warmup": mode.warmup, "duration": mode.duration}
    out: list[Group] = []
    for size in mode.sizes:
        for api in APIS:
            servers = _python_contenders(main + (plain if size in mode.plain_sizes else []), api)
            floor = {}
            if api == "protocol":  # the C++ floor, and the newest Python's loops at its rate
                floor = {f"C++ {e}": Server(engine=e) for e in FLOOR_CPP}
                floor |= _at_rate(main[-1:], api)
            conns = connections[size]
            key = {"api": api, "size": size, "connections": conns}
            rated = Load(conns, size, rate=FLOOR_RATE[size], sampled=mode.sampled, **load)
            out.append(
                Group(
                    "saturation",
                    key,
                    servers | floor,
                    Load(conns, size, **load),
                    {n: rated for n in floor},
                )
            )
    newest = main[-1] if main else None
    for size in mode.pingpong_sizes:
        for api in APIS:
            servers = _python_contenders(main, api)
            if newest and api in ORIGINAL_APIS and newest.get("original_uvloop_python"):
                servers[f"{newest['version']} {newest['build']} uvloop 0.21.0"] = _server(
                    newest, "uvloop", api, newest["original_uvloop_python"]
                )
            floor = {}
            if api == "protocol":  # the C++ servers, and epoll busy polling as the diagnostic
                servers |= {f"C++ {e}": Server(engine=e) for e in PINGPONG_ENGINES}
                floor = {f"C++ {e} {AT_FIXED_RATE}": Server(engine=e) for e in FLOOR_CPP}
                floor |= _at_rate(main[-1:], api)
            key = {"api": api, "size": size, "connections": PINGPONG_CONNECTIONS}
            rated = Load(
                PINGPONG_CONNECTIONS, size, rate=PINGPONG_FLOOR_RATE, sampled=mode.sampled, **load
            )
            out.append(
                Group(
                    "pingpong",
                    key,
                    servers | floor,
                    Load(PINGPONG_CONNECTIONS, size, **load),
                    {n: rated for n in floor},
                )
            )
    size = 1000
    servers = {}
    for api in HTTP_APIS:
        servers |= {f"{n} {api}": s for n, s in _python_contenders(main, api).items()}
    floor = {"C++ epoll http": Server(engine="epoll-http")}
    floor |= _at_rate(main[-1:], "http-httptools", named=True)
    conns = connections[size]
    key = {"api": "http", "size": size, "connections": conns}
    rated = Load(
        conns, size, rate=FLOOR_RATE[size] * 0.75, mode="http", sampled=mode.sampled, **load
    )
    out.append(
        Group(
            "http",
            key,
            servers | floor,
            Load(conns, size, mode="http", **load),
            {n: rated for n in floor},
        )
    )
    return out


def _at_rate(pythons: list[dict[str, Any]], api: str, named: bool = False) -> dict[str, Server]:
    """The loops of ``pythons`` as contenders for the C++ servers' fixed rate (``named``: the
    API in the name too, as in the HTTP group)."""
    suffix = f" {api} {AT_RATE}" if named else f" {AT_RATE}"
    return {n + suffix: s for n, s in _python_contenders(pythons, api).items()}
