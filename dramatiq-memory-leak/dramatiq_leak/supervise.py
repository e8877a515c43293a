"""``python -m dramatiq_leak.supervise ARGS``: the ``dramatiq`` command, with its exit log kept.

Runs ``dramatiq.cli.main()`` exactly as the ``dramatiq`` console script does, after one
addition: the supervisor's own log records (logger ``dramatiq.MainProcess``) are also
written, synchronously, to ``$DLEAK_SUPERVISOR_LOG``. dramatiq sends them through a pipe to
a log-watcher thread that it stops right after a worker dies, so the line that gives the
worker's exit code ("Worker with PID N exited unexpectedly (code -9)") is sometimes lost;
and the supervisor's own exit status cannot tell a signal from ``exit(1)``.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> int:
    path = os.environ.get("DLEAK_SUPERVISOR_LOG")
    if path:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("dramatiq.MainProcess").addHandler(handler)
    from dramatiq.cli import main as dramatiq_main

    return dramatiq_main()


if __name__ == "__main__":
    sys.exit(main())
