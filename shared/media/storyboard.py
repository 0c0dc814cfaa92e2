"""Storyboards as players expect them: sprite sheets of equal tiles plus a WebVTT file whose cues
point at one tile each (`sprite_001.jpg#xywh=x,y,w,h`), covering the video from 0 to its end."""

from __future__ import annotations

from dataclasses import dataclass

from shared.media.timecode import vtt_time


@dataclass(frozen=True)
class StoryboardLayout:
    tile_width: int
    tile_height: int
    columns: int
    rows: int
    interval_seconds: float

    @property
    def per_sprite(self) -> int:
        return self.columns * self.rows


def sprite_name(index: int) -> str:
    """The image2 muxer's `sprite_%03d.jpg`, counted from 1."""
    return f"sprite_{index + 1:03d}.jpg"


def webvtt(layout: StoryboardLayout, tile_times: list[float], duration: float) -> str:
    """One cue per tile, from its frame's time to the next tile's; the last runs to the end."""
    lines = ["WEBVTT", ""]
    for i, start in enumerate(tile_times):
        end = tile_times[i + 1] if i + 1 < len(tile_times) else max(duration, start + 0.001)
        sprite, cell = divmod(i, layout.per_sprite)
        row, column = divmod(cell, layout.columns)
        lines += [
            f"{vtt_time(start)} --> {vtt_time(end)}",
            f"{sprite_name(sprite)}#xywh={column * layout.tile_width},{row * layout.tile_height},"
            f"{layout.tile_width},{layout.tile_height}",
            "",
        ]
    return "\n".join(lines)
