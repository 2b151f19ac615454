"""Background loops the embedded ``connector serve`` runs in-process (outbox, jobs)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

# Each entry runs forever in a daemon thread: loop(app, stop_event). Features append here.
LOOPS: list[Callable[[Flask, threading.Event], None]] = []


def start_in_process(app: Flask) -> threading.Event:
    """Start every registered loop when the app is configured to run jobs in-process."""
    stop = threading.Event()
    if app.config.get("JOBS_IN_PROCESS", True):
        for loop in LOOPS:
            threading.Thread(target=loop, args=(app, stop), daemon=True,
                             name=f"connector-{loop.__name__}").start()
    return stop
