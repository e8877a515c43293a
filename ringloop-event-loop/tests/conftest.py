"""What every ringloop test module shares: a fresh loop per test, shut down and closed after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ringloop


@pytest.fixture
def loop() -> Iterator[ringloop.Loop]:
    lp = ringloop.new_event_loop()
    yield lp
    if not lp.is_closed():  # some tests close it themselves
        lp.run_until_complete(lp.shutdown_asyncgens())
        lp.close()
