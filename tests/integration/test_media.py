"""probe and the one-run render on generated clips, with real ffmpeg: every artifact opens, every
measurement is parsed, and the inputs people really upload all come out as a web-playable proxy."""

import itertools
import re
from pathlib import Path

import pytest

from infra.clips import FAST_H264_AAC, lavfi, run_ffmpeg
from shared.config import Settings
from shared.domain import PipelineError, Reason
from shared.media.confine import OUTPUT_FORMATS, DecodeLimits
from shared.media.models import MadeBy
from shared.media.probe import check_decodes, probe, video_streams
from shared.media.renditions import render
from shared.metadata.technical import technical_from_probe
from tests.media_checks import decodes, vtt_cues
from tests.media_variants import make_variants
from tests.unit.test_renditions import rendition_options

BY = MadeBy(tool="ffprobe", version="test")
LIMITS = DecodeLimits.from_settings(Settings())


def rendered(src, tmp_path, **options) -> tuple:
    tech = technical_from_probe(probe(src), BY)
    result = render(src, tmp_path, tech, rendition_options(**options), LIMITS)
    return tech, {r.kind: r for r in result.renditions}, result


@pytest.fixture(scope="module")
def scenes_clip(tmp_path_factory) -> Path:
    """Three scenes with sound, then silence, then two seconds of black: 9 s."""
    path = tmp_path_factory.mktemp("scenes") / "scenes.mp4"
    run_ffmpeg(
        [
            *lavfi("testsrc2=size=640x360:rate=25:duration=3"),
            *lavfi("smptebars=size=640x360:rate=25:duration=3"),
            *lavfi("color=black:size=640x360:rate=25:duration=3"),
            *lavfi("sine=f=440:sample_rate=48000:d=4"),
            *lavfi("anullsrc=r=48000:cl=mono:d=5"),
            "-filter_complex",
            "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v];[3:a][4:a]concat=n=2:v=0:a=1[a]",
            "-map",
            "[v]",
            "-map",
            "[a]",
            *FAST_H264_AAC,
            str(path),
        ]
    )
    return path


@pytest.fixture(scope="module")
def scenes_result(scenes_clip, tmp_path_factory) -> tuple:
    return rendered(scenes_clip, tmp_path_factory.mktemp("out"))


def test_one_run_makes_every_artifact(scenes_result):
    _, out, _ = scenes_result
    assert set(out) == {"proxy", "proxy_hls", "audio", "poster", "thumbnails", "storyboard", "scene_scores"}
    codecs = sorted(s["codec_name"] for s in probe(out["proxy"].main.local)["streams"])
    assert codecs == ["aac", "h264"]
    assert out["proxy"].details["duration_seconds"] == pytest.approx(9.0, abs=0.1)
    assert (out["audio"].details["sample_rate"], out["audio"].details["channels"]) == (16000, 1)
    for file in (*out["thumbnails"].extra, *out["storyboard"].extra, out["poster"].main):
        assert decodes(file.local), file.key
    # The proxy's encode as HLS too: the same packets, cut at keyframes forced every segment.
    playlist = out["proxy_hls"].main.local
    lengths = [float(x) for x in re.findall(r"#EXTINF:([0-9.]+)", playlist.read_text())]
    assert lengths == pytest.approx([6.0, 3.0], abs=0.05) and out["proxy_hls"].details["segments"] == 2
    assert decodes(playlist)
    assert sorted(s["codec_name"] for s in probe(out["proxy_hls"].extra[0].local, OUTPUT_FORMATS)["streams"]) == [
        "aac",
        "h264",
    ]


def test_measurements_find_the_scenes_the_black_and_the_silence(scenes_result):
    _, _, result = scenes_result
    found = result.analysis
    assert [round(c.time) for c in found.scene_cuts] == [3, 6]
    assert found.frames_scored == 225
    assert [(round(s.start), round(s.end)) for s in found.black_segments] == [(6, 9)]
    assert [(round(s.start), round(s.end)) for s in found.silent_segments or []] == [(4, 9)]
    assert found.loudness is not None and -30 < (found.loudness.integrated_lufs or 0) < -10
    assert found.loudness.true_peak_dbtp is not None and found.loudness.range_lu is not None
    scene_thumbs = [t for t in found.thumbnails if t.kind == "scene"]
    assert [round(t.time) for t in scene_thumbs] == [3, 6]


def test_the_poster_is_a_sharp_frame_never_black(scenes_result):
    _, out, result = scenes_result
    choice = result.analysis.poster
    assert choice is not None and choice.rule == "sharpest_of_usable"
    assert choice.time < 6  # the last three seconds are black
    assert choice.rejected_black == 3 and choice.candidates == 9
    assert (
        out["poster"].main.local.read_bytes()
        == (out["thumbnails"].main.local.parent / f"thumb_{choice.index + 1:04d}.jpg").read_bytes()
    )


def test_storyboard_cues_increase_and_cover_the_video(scenes_result):
    _, out, result = scenes_result
    cues = vtt_cues(out["storyboard"].main.local.read_text())
    assert cues[0][0] == 0 and cues[-1][1] == pytest.approx(9.0, abs=0.05)
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(cues))
    board = result.analysis.storyboard
    assert board is not None and board.tiles == len(cues) == 9
    assert cues[1][2] == f"sprite_001.jpg#xywh={board.tile_width},0,{board.tile_width},{board.tile_height}"


def test_scene_scores_cover_every_frame(scenes_result):
    _, out, _ = scenes_result
    lines = out["scene_scores"].main.local.read_text().splitlines()
    assert lines[0] == "time,score" and len(lines) == 226


def test_hls_ladder_is_capped_at_the_source_and_plays(clips, tmp_path):
    _, out, _ = rendered(clips["plain"], tmp_path, hls=True)
    master = out["hls"].main.local.read_text()
    assert master.count("#EXT-X-STREAM-INF") == 1  # a 360p source: no 720p or 1080p rung
    assert "RESOLUTION=640x360" in master
    playlist = out["hls"].main.local.parent / "0" / "index.m3u8"
    info = probe(playlist, OUTPUT_FORMATS)
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"]
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.2)


def test_webp_thumbnails_when_asked(clips, tmp_path):
    _, out, _ = rendered(clips["plain"], tmp_path, thumbnail_format="webp", thumbnail_interval_seconds=0.5)
    files = [f for f in out["thumbnails"].extra if f.key.startswith("thumbnails/thumb_")]
    assert len(files) == 4 and all(f.local.read_bytes()[8:12] == b"WEBP" for f in files)
    assert out["poster"].main.key == "poster.webp"


def test_faststart_puts_the_index_first(clips, tmp_path):
    _, out, _ = rendered(clips["plain"], tmp_path)
    head = out["proxy"].main.local.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_proxy_is_capped_at_the_configured_height(clips, tmp_path):
    _, out, _ = rendered(clips["plain"], tmp_path, proxy_max_height=240)
    assert (out["proxy"].details["width"], out["proxy"].details["height"]) == (426, 240)


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    return make_variants(tmp_path_factory.mktemp("variants"))


@pytest.mark.parametrize(
    "name, proxy_size, channels",
    [
        ("phone_rotated", (240, 320), 1),  # turned upright
        ("no_audio", (320, 240), None),
        ("variable_frame_rate", (320, 240), 1),
        ("ten_bit", (320, 240), 1),
        ("odd_dimensions", (320, 240), 1),  # 321x241 source: even sides for 4:2:0
        ("surround_5_1", (320, 240), 6),
        ("webm_vp9", (320, 240), 1),
        ("mkv_hevc", (320, 240), 1),
        ("mov_prores", (320, 240), 1),
    ],
)
def test_inputs_people_upload(variants, tmp_path, name, proxy_size, channels):
    tech, out, result = rendered(variants[name], tmp_path)
    if name == "variable_frame_rate":
        assert tech.video is not None and tech.video.variable_frame_rate
    proxy = probe(out["proxy"].main.local)
    video = next(s for s in proxy["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", *proxy_size)
    assert not video.get("side_data_list")
    audio = [s for s in proxy["streams"] if s["codec_type"] == "audio"]
    assert float(proxy["format"]["duration"]) == pytest.approx(2.0, abs=0.15)
    if channels is None:
        assert audio == [] and "audio" not in out and result.analysis.loudness is None
    else:
        assert [(s["codec_name"], s["channels"]) for s in audio] == [("aac", 2)]  # stereo for the web
        assert (out["audio"].details["channels"], out["audio"].details["sample_rate"]) == (1, 16000)
        assert result.analysis.loudness is not None
    assert decodes(out["poster"].main.local)
    cues = vtt_cues(out["storyboard"].main.local.read_text())
    assert cues[-1][1] == pytest.approx(tech.duration_seconds or 0, abs=0.1)


def test_random_bytes_are_not_a_video(clips):
    with pytest.raises(PipelineError) as info:
        probe(clips["junk"])
    assert info.value.reason is Reason.NOT_A_VIDEO
    assert "Traceback" not in info.value.message


def test_a_failure_names_the_file_but_not_where_the_instance_keeps_it(clips, tmp_path):
    kept = tmp_path / "instance-scratch" / "clip.webm"
    kept.parent.mkdir()
    kept.write_bytes(clips["junk"].read_bytes())
    with pytest.raises(PipelineError) as info:
        probe(kept)
    assert "clip.webm" in info.value.message and str(kept.parent) not in info.value.message


def test_first_frame_decodes_for_real_video(clips):
    info = probe(clips["plain"])
    check_decodes(clips["plain"], "mov", int(video_streams(info)[0]["index"]))


def test_a_flickering_video_makes_at_most_one_cut_and_scene_thumbnail_a_second(tmp_path):
    """A cut at every frame (the 1000 fps attack, at a rate ingest would refuse, rendered anyway):
    cuts and scene thumbnails stay at most one a second, each thumbnail at its cut's time."""
    from tests.bad_inputs import make_flicker

    src = make_flicker(tmp_path / "flicker.mp4", seconds=10, fps=1000)
    work = tmp_path / "work"
    _, _, result = rendered(src, work)
    analysis = result.analysis
    cuts = [c.time for c in analysis.scene_cuts]
    scene_thumbs = [t for t in analysis.thumbnails if t.kind == "scene"]
    assert analysis.frames_scored == 10_000
    assert 9 <= len(cuts) <= 10 and all(b - a > 0.999 for a, b in itertools.pairwise(cuts))
    assert [t.time for t in scene_thumbs] == cuts
    assert len(list((work / "thumbnails").glob("scene_*"))) == len(scene_thumbs)
