"""How far a running step is, said on its job's row as it goes (public.report_progress): what it
does now and how much of how much. At most every REPORT_SECONDS within a stage, at once when a
stage begins and when it reaches its end; a report that does not arrive is dropped, never in the
way of the work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from shared.domain import TransientError
from shared.logs import get_logger
from shared.models import Job
from shared.ports import Services

log = get_logger("progress")

REPORT_SECONDS = 2.0


class Progress:
    def __init__(self, svc: Services[Any], job: Job, clock: Callable[[], float] = time.monotonic) -> None:
        self.svc, self.job, self.clock = svc, job, clock
        self._stage: str | None = None
        self._at = float("-inf")
        self._totals: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()  # reports come from the tools' reader threads too

    def stage(self, stage: str, total: float, unit: str = "seconds") -> Callable[[float], None]:
        """The reporter of one stage's `done` (of `total`, in `unit`); it starts at 0."""

        def report(done: float) -> None:
            self._report(stage, done, total, unit)

        self._totals[stage] = (total, unit)
        report(0.0)
        return report

    def end(self, stage: str) -> None:
        """The stage is done, whatever its reports counted (a remux's segments run longer than
        their nominal length where the source's keyframes are further apart)."""
        total, unit = self._totals[stage]
        self._report(stage, total, total, unit)

    def segments(self, stage: str, total: float, seconds: float) -> Callable[[int], None]:
        """The reporter of a stage that writes the video (`total` seconds) as HLS segments of
        `seconds`, told how many are stored: that many times `seconds` are done."""
        report = self.stage(stage, total)
        return lambda stored: report(stored * seconds)

    def _report(self, stage: str, done: float, total: float, unit: str) -> None:
        if total <= 0:
            return
        done = min(done, total)  # the last segment may be shorter
        with self._lock:
            now = self.clock()
            if stage == self._stage and now - self._at < REPORT_SECONDS and done < total:
                return  # a stage's end is always said
            self._stage, self._at = stage, now
        try:
            self.svc.db.report_progress(self.job.id, self.job.claim, stage, done, total, unit)
        except TransientError as exc:
            log.warning("progress not reported: %s", exc, extra={"job_id": str(self.job.id)})
        except Exception:  # a report is never worth the work it describes
            log.exception("progress not reported", extra={"job_id": str(self.job.id)})
