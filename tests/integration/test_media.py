"""probe and the one-run render on generated clips, with real ffmpeg."""

import pytest

from shared.domain import PipelineError, Reason
from shared.media.probe import check_decodes, probe, video_streams
from shared.media.renditions import RenditionOptions, render
from shared.metadata.technical import MadeBy, technical_from_probe

BY = MadeBy(tool="ffprobe", version="test")


def rendered(src, tmp_path, **options):
    tech = technical_from_probe(probe(src), BY)
    return tech, {r.kind: r for r in render(src, tmp_path, tech, RenditionOptions(**options))}


def test_plain_clip_gives_poster_proxy_and_wav(clips, tmp_path):
    tech, out = rendered(clips["plain"], tmp_path)
    assert tech.video is not None and (tech.video.width, tech.video.height) == (640, 360)
    assert set(out) == {"poster", "proxy", "audio"}
    proxy = probe(out["proxy"].file)
    codecs = sorted(s["codec_name"] for s in proxy["streams"])
    assert codecs == ["aac", "h264"]
    assert out["proxy"].details["duration_seconds"] == pytest.approx(2.0, abs=0.1)
    assert (out["audio"].details["sample_rate"], out["audio"].details["channels"]) == (16000, 1)
    assert out["poster"].file.read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_faststart_puts_the_index_first(clips, tmp_path):
    _, out = rendered(clips["plain"], tmp_path)
    head = out["proxy"].file.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_rotated_phone_clip_gives_an_upright_portrait_proxy(clips, tmp_path):
    tech, out = rendered(clips["rotated"], tmp_path)
    assert tech.video is not None and tech.video.rotation in (90, 270)
    stream = next(s for s in probe(out["proxy"].file)["streams"] if s["codec_type"] == "video")
    assert (stream["width"], stream["height"]) == (360, 640)
    assert not stream.get("side_data_list")  # already turned: no rotation left for players to apply
    assert (out["poster"].details["width"], out["poster"].details["height"]) == (360, 640)


def test_proxy_is_capped_at_the_configured_height(clips, tmp_path):
    _, out = rendered(clips["plain"], tmp_path, proxy_max_height=240)
    assert (out["proxy"].details["width"], out["proxy"].details["height"]) == (426, 240)


def test_clip_without_audio_has_no_wav(clips, tmp_path):
    _, out = rendered(clips["silent"], tmp_path)
    assert set(out) == {"poster", "proxy"}


def test_random_bytes_are_not_a_video(clips):
    with pytest.raises(PipelineError) as info:
        probe(clips["junk"])
    assert info.value.reason is Reason.NOT_A_VIDEO
    assert "Traceback" not in info.value.message


def test_first_frame_decodes_for_real_video(clips):
    info = probe(clips["plain"])
    check_decodes(clips["plain"], int(video_streams(info)[0]["index"]))
