"""A step's progress reports: at once when a stage begins, then at most every REPORT_SECONDS;
a report the database does not take is dropped, and the work goes on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.domain import JobStatus, TransientError
from shared.models import Job
from shared.ports import Services
from shared.usecases.progress import REPORT_SECONDS, Progress


class Rows:
    def __init__(self) -> None:
        self.reports: list[tuple[Any, ...]] = []
        self.away = False

    def report_progress(self, job_id: Any, worker: str, stage: str, done: float, total: float, unit: str) -> None:
        if self.away:
            raise TransientError("database unavailable")
        self.reports.append((worker, stage, done, total, unit))


def a_job() -> Job:
    now = datetime.now(UTC)
    return Job(
        id=uuid.uuid4(), video_id=uuid.uuid4(), owner_id=None, status=JobStatus.PROCESSING, attempts=1,
        max_attempts=3, lease_owner="w:1", lease_expires_at=now, run_after=now, created_at=now, updated_at=now,
    )  # fmt: skip


def test_reports_are_spaced_within_a_stage_and_a_new_stage_is_said_at_once():
    rows, clock = Rows(), [100.0]
    progress = Progress(Services(settings=None, db=rows, worker="w"), a_job(), clock=lambda: clock[0])  # type: ignore[arg-type]
    packaging = progress.stage("packaging", 60)
    for t in (1, 2, 3):
        clock[0] += 0.5
        packaging(t)
    clock[0] += REPORT_SECONDS
    packaging(30)
    encoding = progress.stage("encoding", 60)
    encoding(0.5)
    assert rows.reports == [
        ("w:1", "packaging", 0.0, 60, "seconds"),
        ("w:1", "packaging", 30, 60, "seconds"),
        ("w:1", "encoding", 0.0, 60, "seconds"),
    ]


def test_hls_segments_stored_are_seconds_done_up_to_the_length():
    rows, clock = Rows(), [0.0]
    progress = Progress(Services(settings=None, db=rows, worker="w"), a_job(), clock=lambda: clock[0])  # type: ignore[arg-type]
    encoding = progress.segments("encoding", 20.5, 6)
    for stored in (1, 2, 3, 4):
        clock[0] += REPORT_SECONDS
        encoding(stored)
    assert [r[2] for r in rows.reports] == [0.0, 6, 12, 18, 20.5]
    packaging = progress.segments("packaging", 20.5, 6)
    packaging(1)  # segments of 8 s, where the source's keyframes are 8 s apart: 1 counted, 8 s done
    progress.end("packaging")  # said at once, however soon
    assert [r[1:3] for r in rows.reports[-2:]] == [("packaging", 0.0), ("packaging", 20.5)]


def test_a_report_the_database_does_not_take_is_dropped():
    rows = Rows()
    rows.away = True
    progress = Progress(Services(settings=None, db=rows, worker="w"), a_job())  # type: ignore[arg-type]
    progress.stage("transcribing", 60)(10)  # no error
    rows.away = False
    progress.stage("encoding", 0)(1)  # an unknown length: nothing to say
    assert rows.reports == []
