"""The heartbeat that keeps a step's lease: a renewal every third of the lease while the step
works, and `lost` once the lease is gone, so the step stops."""

import itertools
import threading
import time
from pathlib import Path

import pytest

from shared.domain import LeaseLost, Reason, TransientError
from shared.media.ffmpeg_tools import run_tool
from shared.usecases.heartbeat import Heartbeat


def test_it_renews_every_third_of_the_lease_while_the_step_works():
    renewed: list[float] = []
    with Heartbeat(lambda: renewed.append(time.monotonic()), lease_seconds=0.3) as beat:
        time.sleep(0.55)
    assert len(renewed) >= 2 and beat.renewals == len(renewed) and not beat.lost.is_set()
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(renewed))  # a third of the lease apart, not sooner
    count = len(renewed)
    time.sleep(0.25)
    assert len(renewed) == count  # none once the step is done


def test_a_lease_taken_by_another_run_is_lost_at_once():
    def taken() -> None:
        raise LeaseLost("worker w no longer holds the lease")

    beat = Heartbeat(taken, lease_seconds=30)
    assert beat.beat_once(last_renewed=0.0) == 0.0
    assert beat.lost.is_set()
    with pytest.raises(LeaseLost):
        beat.check()


def test_the_database_away_loses_the_lease_only_once_it_has_run_out():
    clock = [100.0]

    def away() -> None:
        raise TransientError("database unavailable")

    beat = Heartbeat(away, lease_seconds=45, clock=lambda: clock[0])
    clock[0] = 130.0
    assert beat.beat_once(last_renewed=100.0) == 100.0 and not beat.lost.is_set()  # 30 s: still ours
    clock[0] = 145.0
    beat.beat_once(last_renewed=100.0)
    assert beat.lost.is_set()  # 45 s without a renewal: another run may have it by now


def test_a_tool_is_killed_as_soon_as_the_lease_is_lost(tmp_path):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    pid_file = tmp_path / "pid"
    with pytest.raises(LeaseLost):  # the tool writes its own pid, then becomes the sleep
        run_tool(["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"], Reason.MEDIA_ERROR, "sleeping", 60, stop=stop)
    assert time.monotonic() - started < 2
    assert not Path(f"/proc/{pid_file.read_text().strip()}").exists()  # killed and reaped, not left running
