"""Which sources play as they are (remuxed to HLS, no decode) and why the others do not."""

from __future__ import annotations

from typing import Any

from shared.media.models import MadeBy
from shared.media.web_ready import not_web_ready
from shared.metadata.technical import AudioStreamInfo, Technical, VideoStreamInfo


def tech(audio: dict[str, Any] | None = None, **video: Any) -> Technical:
    picture: dict[str, Any] = {
        "index": 0,
        "codec": "h264",
        "profile": "High",
        "width": 1920,
        "height": 1080,
        "display_width": 1920,
        "display_height": 1080,
        "sample_aspect_ratio": "1:1",
        "fps": 30.0,
        "pixel_format": "yuv420p",
        "bit_depth": 8,
    } | video
    streams: list[Any] = [VideoStreamInfo(**picture)]
    if audio is not None:
        streams.append(AudioStreamInfo(**({"index": 1, "codec": "aac", "profile": "LC"} | audio)))
    return Technical(made_by=MadeBy(tool="ffprobe", version="test"), container="mov,mp4", streams=streams)


def test_what_phones_cameras_and_screen_recorders_make_for_the_web_plays_as_it_is():
    assert not_web_ready(tech(audio={})) == []
    assert not_web_ready(tech()) == []  # no sound at all
    assert not_web_ready(tech(profile="Constrained Baseline", pixel_format="yuvj420p", sample_aspect_ratio=None)) == []
    assert not_web_ready(tech(width=3840, height=2160, fps=60.0)) == []


def test_each_thing_a_browser_cannot_play_is_named():
    cases = {
        "the video is hevc, not H.264": tech(codec="hevc", profile="Main 10"),
        "H.264 High 4:4:4 Predictive, not Baseline, Main or High": tech(profile="High 4:4:4 Predictive"),
        "its pixels are yuv420p10le, not 8-bit 4:2:0": tech(pixel_format="yuv420p10le"),
        "it is HDR": tech(hdr=True),
        "its pixels are not square (4:3)": tech(sample_aspect_ratio="4:3"),
        "the player is told to turn it 90 degrees": tech(rotation=90),
        "it is 7680x4320, over 4096 a side": tech(width=7680, height=4320),
        "it runs at 120 frames a second, over 60": tech(fps=120.0),
        "the sound is opus, not AAC": tech(audio={"codec": "opus"}),
    }
    for said, source in cases.items():
        assert not_web_ready(source) == [said]
    assert len(not_web_ready(tech(codec="vp9", profile=None, pixel_format="yuv444p", audio={"codec": "vorbis"}))) == 3
