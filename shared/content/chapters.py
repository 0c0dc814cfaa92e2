"""Chapters: the video's scene cuts, moved off words into the nearest pause in the speech, plus
the longest pause of any long stretch without a cut (a talking head); a chapter shorter than the
minimum is merged into its shorter neighbour. Each is labelled with the keywords of its own
speech, or "Scene N" when nobody speaks in it."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from shared import __version__
from shared.content.keywords import keywords
from shared.content.transcript import Word
from shared.media.models import MadeBy, SceneCut, Segment
from shared.media.timecode import clock

Boundary = Literal["start", "scene_cut", "pause"]


def made_by() -> MadeBy:
    return MadeBy(tool="vidpipe chapters (scene cuts and speech pauses)", version=__version__)


@dataclass(frozen=True)
class ChapterRules:
    min_seconds: float = 10.0  # YouTube's minimum
    max_seconds: float = 300.0  # a longer stretch without a cut is split at its longest pause
    snap_seconds: float = 1.0  # how far a cut may move to land in a pause
    min_pause_seconds: float = 0.3
    label_words: int = 4


class Chapter(BaseModel):
    start: float
    end: float
    label: str
    starts_at: Boundary  # what begins it


def pauses(words: list[Word], duration: float, min_seconds: float) -> list[Segment]:
    """The gaps in the speech: before the first word, between words, after the last."""
    edges = [0.0, *(t for w in words for t in (w.start, w.end)), duration]
    return [Segment(start=a, end=b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_seconds]


def snap(t: float, words: list[Word], gaps: list[Segment], within: float) -> float:
    """t itself when nobody is speaking then, else the nearest moment in a pause within reach."""
    if not any(w.start < t < w.end for w in words):
        return t
    nearest = min((min(max(t, g.start), g.end) for g in gaps), key=lambda c: abs(c - t), default=t)
    return round(nearest, 3) if abs(nearest - t) <= within else t


def chapters(
    duration: float,
    cuts: list[SceneCut],
    words: list[Word],
    rules: ChapterRules = ChapterRules(),
    language: str = "en",
) -> list[Chapter]:
    if duration <= 0:
        return []
    gaps = pauses(words, duration, rules.min_pause_seconds)
    bounds: dict[float, Boundary] = {0.0: "start"}
    for cut in cuts:
        t = snap(cut.time, words, gaps, rules.snap_seconds)
        if 0 < t < duration:
            bounds.setdefault(t, "scene_cut")
    starts = sorted(bounds)
    for a, b in zip(starts, [*starts[1:], duration], strict=True):
        _split_long(a, b, gaps, rules, bounds)
    starts = _merge_short(sorted(bounds), duration, rules.min_seconds)
    ends = [*starts[1:], duration]
    return [
        Chapter(start=a, end=b, label=label(words, a, b, i + 1, rules.label_words, language), starts_at=bounds[a])
        for i, (a, b) in enumerate(zip(starts, ends, strict=True))
    ]


def _split_long(a: float, b: float, gaps: list[Segment], rules: ChapterRules, bounds: dict[float, Boundary]) -> None:
    if b - a <= rules.max_seconds:
        return
    inside = [g for g in gaps if a + rules.min_seconds <= (g.start + g.end) / 2 <= b - rules.min_seconds]
    if not inside:
        return
    longest = max(inside, key=lambda g: g.end - g.start)
    t = round((longest.start + longest.end) / 2, 3)
    bounds[t] = "pause"
    _split_long(a, t, gaps, rules, bounds)
    _split_long(t, b, gaps, rules, bounds)


def _merge_short(starts: list[float], duration: float, min_seconds: float) -> list[float]:
    """Drop boundaries until every chapter lasts min_seconds (or only one is left): the shortest
    chapter (the earliest of equals) joins whichever neighbour is shorter. A heap of lengths and a
    linked list of chapters make it O(n log n): a flickering video has a cut at every second."""
    n = len(starts)
    end = [*starts[1:], duration]
    before, after = list(range(-1, n - 1)), [*range(1, n), -1]
    alive = [True] * n
    heap = [(end[i] - starts[i], i) for i in range(n)]
    heapq.heapify(heap)
    left = n
    while left > 1:
        length, i = heapq.heappop(heap)
        if not alive[i] or length != end[i] - starts[i]:
            continue  # an entry from before this chapter grew
        if length >= min_seconds:
            break
        p, q = before[i], after[i]
        if p != -1 and (q == -1 or end[p] - starts[p] <= end[q] - starts[q]):
            i, q = p, i  # the previous chapter takes this one in
        # Chapter i takes in chapter q, the one after it.
        end[i], alive[q] = end[q], False
        after[i] = after[q]
        if after[q] != -1:
            before[after[q]] = i
        heapq.heappush(heap, (end[i] - starts[i], i))
        left -= 1
    return [s for s, keep in zip(starts, alive, strict=True) if keep]


def label(words: list[Word], start: float, end: float, number: int, max_words: int, language: str = "en") -> str:
    spoken = " ".join(w.text for w in words if start <= w.start < end)
    ranked = keywords(spoken, limit=3, language=language)
    if not ranked:
        return f"Scene {number}"
    phrases, count = [ranked[0].text], len(ranked[0].text.split())
    for extra in ranked[1:]:
        count += len(extra.text.split())
        if count > max_words:
            break
        phrases.append(extra.text)
    joined = ", ".join(phrases)
    return joined[:1].upper() + joined[1:]


def youtube_list(chapters: list[Chapter]) -> str:
    """Lines of `0:00 Label`, as YouTube reads chapters from a description."""
    hours = bool(chapters) and chapters[-1].end >= 3600
    return "\n".join(f"{clock(c.start, hours)} {c.label}" for c in chapters)


def youtube_ready(chapters: list[Chapter]) -> bool:
    """YouTube's rules: the first at 0:00, at least three, each at least ten seconds long."""
    return len(chapters) >= 3 and chapters[0].start == 0 and all(c.end - c.start >= 10 for c in chapters)
