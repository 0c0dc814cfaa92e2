from pathlib import Path

import pytest

from shared.domain import PipelineError
from shared.media.renditions import RenditionOptions, build_command, poster_time, proxy_size
from shared.metadata.technical import MadeBy, technical_from_probe


@pytest.mark.parametrize("display, expected", [
    ((1920, 1080), (1280, 720)),
    ((1080, 1920), (720, 1280)),      # portrait: the short side is capped
    ((640, 360), (640, 360)),         # never upscaled
    ((641, 361), (640, 360)),         # odd sizes become even
    ((3840, 1600), (1728, 720)),
])
def test_proxy_size(display, expected):
    assert proxy_size(*display, 720) == expected


def test_poster_time_stays_inside_short_clips():
    assert poster_time(10, 1.0) == 1.0
    assert poster_time(1.5, 1.0) == pytest.approx(0.5)
    assert poster_time(None, 1.0) == 0.0


def probe_of(with_audio: bool) -> dict:
    streams = [{"index": 0, "codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080}]
    if with_audio:
        streams.append({"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2})
    return {"format": {"duration": "10"}, "streams": streams}


def test_one_input_feeds_every_output():
    tech = technical_from_probe(probe_of(True), MadeBy(tool="ffprobe", version="x"))
    args = build_command(Path("/in.mp4"), Path("/out"), tech, RenditionOptions())
    assert args.count("-i") == 1
    graph = args[args.index("-filter_complex") + 1]
    assert "split=2" in graph and "asplit=2" in graph and "scale=1280:720" in graph
    assert [a for a in args if a.startswith("/out/")] == ["/out/poster.jpg", "/out/proxy.mp4", "/out/audio.wav"]


def test_no_audio_means_no_wav():
    tech = technical_from_probe(probe_of(False), MadeBy(tool="ffprobe", version="x"))
    args = build_command(Path("/in.mp4"), Path("/out"), tech, RenditionOptions())
    assert "/out/audio.wav" not in args and "asplit=2" not in " ".join(args)


def test_no_video_stream_is_refused():
    tech = technical_from_probe({"format": {}, "streams": [{"index": 0, "codec_type": "audio"}]},
                                MadeBy(tool="ffprobe", version="x"))
    with pytest.raises(PipelineError):
        build_command(Path("/in.mp4"), Path("/out"), tech, RenditionOptions())
