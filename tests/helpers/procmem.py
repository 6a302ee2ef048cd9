"""Peak memory of a process tree, sampled from /proc (Linux): VmHWM of every member."""

from __future__ import annotations

import re
import threading
from pathlib import Path


class TreePeak:
    """Samples the peak RSS of `pid` and its descendants until `stop()`; kB by pid."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def root_mb(self) -> float:
        return self.peaks.get(self.pid, 0) / 1024

    @property
    def largest_mb(self) -> float:
        return max(self.peaks.values(), default=0) / 1024

    @property
    def others_mb(self) -> float:
        """The largest peak among the descendants (parser workers, fork server)."""
        return max((kb for pid, kb in self.peaks.items() if pid != self.pid), default=0) / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            for member in _family(self.pid):
                try:
                    status = Path(f"/proc/{member}/status").read_text()
                except OSError:
                    continue
                found = re.search(r"VmHWM:\s+(\d+)", status)
                if found:
                    self.peaks[member] = max(self.peaks.get(member, 0), int(found.group(1)))
            self._stop.wait(self._interval)


def _family(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return family
