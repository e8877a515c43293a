"""Two ways to run this folder.

In an environment with dramatiq and pytest (a user's, or one built by ``test_in_envs.py``):
``pytest tests`` runs ``test_break_cycle.py`` directly. In the repository's workspace (which
has the ``lab`` toolkit and no dramatiq) only ``test_in_envs.py`` is collected: it builds an
environment per dramatiq version and interpreter and runs ``test_break_cycle.py`` inside.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("lab") is not None and importlib.util.find_spec("dramatiq") is None:
    collect_ignore = ["test_break_cycle.py"]
else:
    collect_ignore = ["test_in_envs.py"]
