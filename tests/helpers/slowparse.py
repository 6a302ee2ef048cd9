"""Stand-ins for process_body that ParsePool tests run in real worker processes."""

from __future__ import annotations

import os
import time

from aggregator.process import BodyTask, Processed
from aggregator.watch import WatchRules


def sleepy(task: BodyTask, rules: WatchRules | None = None) -> Processed:
    """Sleep as many seconds as the body says; the pid of the worker comes back as warning.

    A body of b"die" ends the worker process at once, as the OOM killer would.
    """
    if task.body == b"die":
        os._exit(9)
    time.sleep(float(task.body))
    return Processed(entries=[], warning=str(os.getpid()))
