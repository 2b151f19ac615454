"""Background loops the embedded ``connector serve`` runs in-process (outbox, jobs)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

# Each entry runs until stop is set, in a daemon thread: loop(app, stop_event). Features append
# here at import time (imported from create_app). ``connector worker`` runs them in the
# foreground; ``connector serve`` runs them in-process when JOBS_IN_PROCESS is on.
LOOPS: list[Callable[[Flask, threading.Event], None]] = []
# One pass of pending work each (``connector worker --once``, and tests): run_once(app).
ONCE: list[Callable[[Flask], None]] = []


def start_in_process(app: Flask) -> threading.Event:
    """Start every registered loop when the app is configured to run jobs in-process."""
    stop = threading.Event()
    if app.config.get("JOBS_IN_PROCESS", True):
        for loop in LOOPS:
            threading.Thread(target=loop, args=(app, stop), daemon=True,
                             name=f"connector-{loop.__name__}").start()
    return stop
