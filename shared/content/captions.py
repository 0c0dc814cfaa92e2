"""Captions from a transcript's words, within what players and style guides accept (the BBC's and
Netflix's English rules): at most two lines of 42 characters, each cue on screen 1 to 7 s, a new
cue at every pause in the speech."""

from __future__ import annotations

import html
from dataclasses import dataclass

from shared import __version__
from shared.content.transcript import Word
from shared.media.models import MadeBy
from shared.media.timecode import srt_time, vtt_time


def made_by() -> MadeBy:
    return MadeBy(tool="vidpipe captions", version=__version__)


@dataclass(frozen=True)
class CaptionRules:
    max_line_chars: int = 42
    max_lines: int = 2
    min_seconds: float = 1.0
    max_seconds: float = 7.0
    pause_seconds: float = 0.6  # a silence this long ends the cue


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def wrap(text: str, width: int) -> list[str]:
    """Lines of whole words no wider than width (a longer word is cut); two lines are balanced,
    the split that makes the longer line shortest, as subtitle guides ask."""
    words = [w[i : i + width] for w in text.split() for i in range(0, len(w), width)]
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) == 2:
        splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
        lines = list(min((s for s in splits if max(map(len, s)) <= width), key=lambda s: max(map(len, s))))
    return lines


def cues(words: list[Word], rules: CaptionRules = CaptionRules()) -> list[Cue]:
    groups: list[list[Word]] = []
    for word in words:
        if groups:
            group = groups[-1]
            text = " ".join(w.text for w in [*group, word])
            if (
                word.start - group[-1].end < rules.pause_seconds
                and word.end - group[0].start <= rules.max_seconds
                and len(wrap(text, rules.max_line_chars)) <= rules.max_lines
            ):
                group.append(word)
                continue
        groups.append([word])
    out: list[Cue] = []
    for i, group in enumerate(groups):
        start = group[0].start
        next_start = groups[i + 1][0].start if i + 1 < len(groups) else float("inf")
        # Short cues stay up a little longer to be readable, never over the next one.
        end = min(max(group[-1].end, start + rules.min_seconds), next_start, start + rules.max_seconds)
        out.append(
            Cue(
                start=round(start, 3),
                end=round(end, 3),
                lines=tuple(wrap(" ".join(w.text for w in group), rules.max_line_chars)),
            )
        )
    return out


def webvtt(captions: list[Cue]) -> str:
    blocks = ["WEBVTT"]
    for cue in captions:
        text = "\n".join(html.escape(line, quote=False) for line in cue.lines)
        blocks.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def srt(captions: list[Cue]) -> str:
    blocks = [
        f"{i}\n{srt_time(cue.start)} --> {srt_time(cue.end)}\n" + "\n".join(cue.lines)
        for i, cue in enumerate(captions, start=1)
    ]
    return "\n\n".join(blocks) + "\n"
