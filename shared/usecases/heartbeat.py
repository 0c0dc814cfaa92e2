"""A step's lease kept alive by a heartbeat, whatever the step does and however long it takes.

While the step works, a thread renews the lease every third of it. When the lease cannot be
renewed any more (another run took the step after it expired, or the database stayed away for
longer than the lease), the heartbeat says so: `lost` is set, the tool the step runs is killed
(run_tool watches it), and the step stops at its next check without recording anything. The run
that took over records the result."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from shared.domain import LeaseLost, TransientError
from shared.logs import get_logger

log = get_logger("heartbeat")


class Heartbeat:
    def __init__(
        self, renew: Callable[[], object], lease_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.renew = renew
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.lost = threading.Event()  # set once the lease is gone: the work must stop
        self.renewals = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()

    def check(self) -> None:
        """Between pieces of work: stop here if the lease is gone."""
        if self.lost.is_set():
            raise LeaseLost("the step's lease was lost: another run owns it now")

    def beat_once(self, last_renewed: float) -> float:
        """One renewal; returns when the lease was last renewed. Sets `lost` when it is gone."""
        try:
            self.renew()
        except LeaseLost:
            self.lost.set()
            return last_renewed
        except TransientError as exc:  # the database is away: the lease still holds until it runs out
            log.warning("lease not renewed: %s", exc)
            if self.clock() - last_renewed >= self.lease_seconds:
                self.lost.set()
            return last_renewed
        self.renewals += 1
        return self.clock()

    def _beat(self) -> None:
        renewed = self.clock()
        while not self._done.wait(self.lease_seconds / 3) and not self.lost.is_set():
            renewed = self.beat_once(renewed)
