from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shared.config import IngestLimits, RenditionSettings
from shared.domain import PipelineError
from shared.media.collect import playlist_files, playlist_rendition
from shared.media.confine import DecodeLimits
from shared.media.filter_graph import build_command
from shared.media.models import MadeBy
from shared.media.plan import (
    RenditionOptions,
    hls_ladder,
    plan_for,
    proxy_size,
    storyboard_interval,
    thumbnail_interval,
    width_size,
)
from shared.metadata.technical import technical_from_probe

LIMITS = DecodeLimits.from_settings(IngestLimits())


def rendition_options(**changed: Any) -> RenditionOptions:
    """Production's options (the settings' defaults), with some changed."""
    return replace(RenditionSettings().rendition_options(), **changed)


@pytest.mark.parametrize(
    "display, expected",
    [
        ((1920, 1080), (1280, 720)),
        ((1080, 1920), (720, 1280)),  # portrait: the short side is capped
        ((640, 360), (640, 360)),  # never upscaled
        ((641, 361), (640, 360)),  # odd sizes become even
        ((3840, 1600), (1728, 720)),
    ],
)
def test_proxy_size(display, expected):
    assert proxy_size(*display, 720) == expected


def test_tiles_keep_the_aspect_and_are_even():
    assert width_size(1920, 1080, 160) == (160, 90)
    assert width_size(1080, 1920, 160) == (160, 284)
    assert width_size(100, 50, 160) == (100, 50)  # never wider than the source


@pytest.mark.parametrize(
    "duration, configured, expected",
    [(10, None, 1.0), (120, None, 12.0), (7200, None, 60.0), (3, None, 1.0), (120, 5.0, 5.0)],
)
def test_thumbnail_interval(duration, configured, expected):
    assert thumbnail_interval(duration, configured) == expected


def test_storyboard_fits_one_sheet_by_default():
    assert storyboard_interval(600, None, 100) == 6.0
    assert storyboard_interval(30, None, 100) == 1.0
    assert storyboard_interval(600, 2.0, 100) == 2.0


def tech_of(with_audio: bool, width: int = 1920, height: int = 1080):
    streams = [{"index": 0, "codec_type": "video", "codec_name": "h264", "width": width, "height": height}]
    if with_audio:
        streams.append({"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2})
    return technical_from_probe(
        {"format": {"duration": "10", "format_name": "mov,mp4,m4a,3gp,3g2,mj2"}, "streams": streams},
        MadeBy(tool="ffprobe", version="x"),
    )


def command(tmp_path, with_audio=True, **options):
    tech = tech_of(with_audio)
    return build_command(Path("/in.mp4"), plan_for(tmp_path, tech, rendition_options(**options)), tech, LIMITS)


def test_one_input_feeds_every_output(tmp_path):
    args = command(tmp_path)
    assert args.count("-i") == 1
    graph = args[args.index("-filter_complex") + 1]
    for part in (
        "split=4",
        "asplit=3",
        "scale=1280:720",
        "scdet",
        "blackdetect",
        "ebur128",
        "silencedetect",
        "tile=10x10",
        "edgedetect",
    ):
        assert part in graph, part
    outputs = [a.removeprefix(str(tmp_path) + "/") for a in args if a.startswith(str(tmp_path))]
    assert outputs == [
        "thumbnails/thumb_%04d.jpg",
        "storyboard/sprite_%03d.jpg",
        "thumbnails/scene_%04d.jpg",
        "audio.wav",
    ]
    # The proxy's one encode, written as an MP4 and as an HLS rendition by the tee muxer.
    (tee,) = [a for a in args if a.startswith("[f=mp4")]
    assert [t.rsplit("]", 1)[1].removeprefix(str(tmp_path) + "/") for t in tee.split("|")] == [
        "proxy.mp4",
        "proxy_hls/index.m3u8",
    ]
    assert ["-f", "tee"] in [args[i : i + 2] for i in range(len(args))]


def test_no_audio_means_no_wav_and_no_listening(tmp_path):
    args = " ".join(command(tmp_path, with_audio=False))
    assert "audio.wav" not in args and "asplit" not in args and "ebur128" not in args


def test_hls_adds_one_encode_per_rung_in_the_same_run(tmp_path):
    args = command(tmp_path, hls=True)
    assert args.count("-i") == 1
    graph = args[args.index("-filter_complex") + 1]
    # the source's frames to the proxy chain and three rungs; the proxy-sized frames four ways
    assert graph.startswith("[0:0]split=4") and graph.count("split=4") == 2 and "asplit=6" in graph
    assert "v:0,a:0 v:1,a:1 v:2,a:2" in args


def test_hls_ladder_stops_at_the_source():
    assert hls_ladder(tech_of(True), rendition_options(hls=True)) == [360, 720, 1080]
    assert hls_ladder(tech_of(True, 854, 480), rendition_options(hls=True)) == [360]
    assert hls_ladder(tech_of(True, 320, 240), rendition_options(hls=True)) == [240]


def test_no_video_stream_is_refused(tmp_path):
    tech = technical_from_probe(
        {"format": {}, "streams": [{"index": 0, "codec_type": "audio"}]}, MadeBy(tool="ffprobe", version="x")
    )
    with pytest.raises(PipelineError):
        plan_for(tmp_path, tech, rendition_options())


def test_a_playlist_names_its_files_through_its_variants(tmp_path):
    """The files of an HLS rendition are the ones its playlists name: its segments may be stored
    and gone from the folder already."""
    (tmp_path / "0").mkdir()
    (tmp_path / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n0/index.m3u8\n")
    (tmp_path / "0/index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment_0000.ts\n#EXTINF:1.5,\nsegment_0001.ts\n#EXT-X-ENDLIST\n"
    )
    assert playlist_files(tmp_path / "master.m3u8") == ["0/index.m3u8", "0/segment_0000.ts", "0/segment_0001.ts"]
    ladder = playlist_rendition("hls", tmp_path.parent, tmp_path.name, "master.m3u8")
    assert ladder is not None and ladder.details == {"segments": 2}
    assert [f.key for f in ladder.files][-1] == f"{tmp_path.name}/master.m3u8"
