"""Runs in a variant's environment: enqueue messages, account for them, show dramatiq's source.

``python -m dramatiq_leak.client enqueue ACTOR --args '[128]' --count 1 [--options JSON] [--flush]``
``python -m dramatiq_leak.client account``
``python -m dramatiq_leak.client source``
``python -m dramatiq_leak.client alloc-check --mb 128``

Each prints one JSON document on stdout. Redis and queue come from the same
``DLEAK_*`` variables as :mod:`dramatiq_leak.worker_app`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from typing import Any


def enqueue(
    actor: str,
    args: list[Any],
    count: int,
    options: dict[str, Any],
    flush: bool,
    numbered: bool = False,
) -> dict:
    from dramatiq_leak import worker_app as app

    if actor not in app.ACTORS:
        raise SystemExit(f"unknown actor {actor!r}; known: {', '.join(sorted(app.ACTORS))}")
    if flush:
        if _is_rabbitmq(app):
            # The harness's own node: proven with rabbitmqctl when it started (the pid is
            # passed only for a proven node). Its queues for this cell are emptied.
            if not os.environ.get("DLEAK_BROKER_PID"):
                raise SystemExit(
                    "refusing to flush: DLEAK_BROKER_PID is not set (only a RabbitMQ node "
                    "started and proven by the harness may be emptied)"
                )
            app.broker.declare_queue(app.QUEUE, ensure=True)
            app.broker.flush(app.QUEUE)
        else:
            _check_own_server(app.broker.client)
            app.broker.client.flushdb()
    ids = [
        app.ACTORS[actor]
        .send_with_options(args=(i, *args) if numbered else tuple(args), **options)
        .message_id
        for i in range(count)
    ]
    return {"ids": ids}


def _check_own_server(client: Any) -> None:
    """Refuse to empty a database unless the server is the harness's own (same pid)."""
    import os

    expected = os.environ.get("DLEAK_BROKER_PID")
    if not expected:
        raise SystemExit(
            "refusing to flush: DLEAK_BROKER_PID is not set (only a redis-server started and "
            "proven by the harness may be emptied)"
        )
    actual = client.info("server").get("process_id")
    if str(actual) != expected:
        raise SystemExit(
            f"refusing to flush: the server at DLEAK_BROKER_URL is pid {actual}, "
            f"not the harness's redis-server (pid {expected})"
        )


def _is_rabbitmq(app: Any) -> bool:
    return type(app.broker).__name__ == "RabbitmqBroker"


def _account_rabbitmq(app: Any) -> dict:
    """Every message left in the cell's queues (taken off them: call it when the workers are
    stopped; RabbitMQ gives a stopped worker's unacknowledged messages back to the queue)."""
    from dramatiq import Message
    from dramatiq.common import dq_name, xq_name

    app.broker.declare_queue(app.QUEUE, ensure=True)
    channel = app.broker.channel
    states: dict[str, str] = {}
    places = ((app.QUEUE, "queued"), (dq_name(app.QUEUE), "delayed"),
              (xq_name(app.QUEUE), "dead_lettered"))  # fmt: skip
    for queue, label in places:
        while True:
            method, _props, body = channel.basic_get(queue=queue, auto_ack=True)
            if method is None:
                break
            mid = Message.decode(body).message_id
            states[mid] = f"duplicate({states[mid]},{label})" if mid in states else label
    return {"states": states}


def account() -> dict:
    """Where each message is in the broker: queued, delayed, unacked (held by a worker; Redis
    only) or dead."""
    from dramatiq import Message
    from dramatiq.common import dq_name, xq_name

    from dramatiq_leak import worker_app as app

    if _is_rabbitmq(app):
        return _account_rabbitmq(app)

    client = app.broker.client
    ns = app.broker.namespace
    acked_by_worker: set[bytes] = set()
    for key in client.scan_iter(match=f"{ns}:__acks__.*"):
        acked_by_worker |= set(client.smembers(key))
    states: dict[str, str] = {}
    places = (
        (app.QUEUE, "queued"),
        (dq_name(app.QUEUE), "delayed"),
        (xq_name(app.QUEUE), "dead_lettered"),
    )
    for queue, label in places:
        for rid, data in client.hgetall(f"{ns}:{queue}.msgs").items():
            msg = Message.decode(data)
            state = "unacked" if rid in acked_by_worker and label != "dead_lettered" else label
            if msg.message_id in states:
                state = f"duplicate({states[msg.message_id]},{state})"
            states[msg.message_id] = state
    return {"states": states}


def source() -> dict:
    import dramatiq
    from dramatiq.asyncio import EventLoopThread
    from dramatiq.broker import MessageProxy

    return {
        "dramatiq": dramatiq.__version__,
        "run_coroutine": inspect.getsource(EventLoopThread.run_coroutine),
        "clear_exception": inspect.getsource(MessageProxy.clear_exception),
        "file": inspect.getsourcefile(EventLoopThread),
    }


def alloc_check(mb: int) -> dict:
    """RSS growth of ``bytes(n)`` (never written) versus a written buffer of the same size."""
    import os

    from dramatiq_leak.worker_app import written_buffer

    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    before = rss()
    unwritten = bytes(mb << 20)
    after_unwritten = rss()
    del unwritten
    base = rss()
    written = written_buffer(mb)
    after_written = rss()
    del written
    return {
        "mb": mb,
        "bytes_n_rss_growth_mb": round((after_unwritten - before) / (1 << 20), 1),
        "written_rss_growth_mb": round((after_written - base) / (1 << 20), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dramatiq_leak.client", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("enqueue", help="send COUNT messages to ACTOR")
    e.add_argument("actor")
    e.add_argument("--args", default="[]", help="JSON list of positional arguments")
    e.add_argument("--count", type=int, default=1)
    e.add_argument("--options", default="{}", help="JSON object of message options")
    e.add_argument("--flush", action="store_true", help="empty the Redis database first")
    e.add_argument("--numbered", action="store_true", help="message i gets i as its first argument")
    sub.add_parser("account", help="state of every message still in Redis")
    sub.add_parser("source", help="dramatiq's run_coroutine and clear_exception source")
    c = sub.add_parser("alloc-check", help="RSS growth: bytes(n) versus a written buffer")
    c.add_argument("--mb", type=int, default=128)
    a = p.parse_args(argv)
    if a.cmd == "enqueue":
        out = enqueue(
            a.actor, json.loads(a.args), a.count, json.loads(a.options), a.flush, a.numbered
        )
    elif a.cmd == "account":
        out = account()
    elif a.cmd == "alloc-check":
        out = alloc_check(a.mb)
    else:
        out = source()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
