from fractions import Fraction

import pytest

from shared.media.models import MadeBy
from shared.metadata.technical import (
    AudioStreamInfo,
    OtherStreamInfo,
    VideoStreamInfo,
    display_size,
    rotation_of,
    technical_from_probe,
)

BY = MadeBy(tool="ffprobe", version="5.1")

PHONE_PROBE = {
    "format": {
        "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
        "format_long_name": "QuickTime / MOV",
        "duration": "12.345000",
        "size": "2000000",
        "bit_rate": "1296000",
    },
    "streams": [
        {
            "index": 0,
            "codec_type": "video",
            "codec_name": "hevc",
            "profile": "Main 10",
            "width": 1920,
            "height": 1080,
            "sample_aspect_ratio": "1:1",
            "avg_frame_rate": "2997/100",
            "r_frame_rate": "30/1",
            "pix_fmt": "yuv420p10le",
            "color_transfer": "arib-std-b67",
            "color_primaries": "bt2020",
            "color_space": "bt2020nc",
            "bits_per_raw_sample": "10",
            "nb_frames": "370",
            "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
            "tags": {"language": "und"},
        },
        {
            "index": 1,
            "codec_type": "audio",
            "codec_name": "aac",
            "profile": "LC",
            "channels": 2,
            "channel_layout": "stereo",
            "sample_rate": "48000",
            "bit_rate": "128000",
            "tags": {"language": "eng"},
        },
        {"index": 2, "codec_type": "data", "codec_name": "none"},
        {
            "index": 3,
            "codec_type": "video",
            "codec_name": "mjpeg",
            "width": 320,
            "height": 320,
            "disposition": {"attached_pic": 1},
        },
    ],
}


def test_phone_clip_is_described_fully():
    tech = technical_from_probe(PHONE_PROBE, BY)
    assert tech.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert tech.duration_seconds == pytest.approx(12.345)
    assert tech.size_bytes == 2_000_000 and tech.bit_rate == 1_296_000
    video, audio = tech.video, tech.audio
    assert isinstance(video, VideoStreamInfo) and isinstance(audio, AudioStreamInfo)
    assert (video.codec, video.profile, video.width, video.height) == ("hevc", "Main 10", 1920, 1080)
    assert video.rotation == 90
    assert (video.display_width, video.display_height) == (1080, 1920)
    assert video.fps == pytest.approx(29.97)
    assert video.variable_frame_rate is True
    assert video.hdr is True and video.bit_depth == 10 and video.pixel_format == "yuv420p10le"
    assert video.language is None
    assert (audio.codec, audio.channels, audio.sample_rate, audio.language) == ("aac", 2, 48000, "eng")
    kinds = [type(s) for s in tech.streams]
    assert kinds == [VideoStreamInfo, AudioStreamInfo, OtherStreamInfo, OtherStreamInfo]  # cover art is not video


@pytest.mark.parametrize(
    "stream, expected",
    [
        ({"side_data_list": [{"rotation": -90}]}, 90),
        ({"side_data_list": [{"rotation": 90}]}, 270),
        ({"side_data_list": [{"rotation": 180}]}, 180),
        ({"tags": {"rotate": "90"}}, 90),
        ({}, 0),
    ],
)
def test_rotation(stream, expected):
    assert rotation_of(stream) == expected


def test_display_size_applies_sample_aspect_and_rotation():
    assert display_size(720, 576, Fraction(16, 15), 0) == (768, 576)
    assert display_size(1920, 1080, Fraction(1), 270) == (1080, 1920)


def test_missing_and_odd_values_do_not_crash():
    tech = technical_from_probe(
        {
            "format": {"duration": "N/A"},
            "streams": [{"index": 0, "codec_type": "video", "avg_frame_rate": "0/0", "sample_aspect_ratio": "0:1"}],
        },
        BY,
    )
    assert tech.duration_seconds is None
    assert tech.video is not None and tech.video.fps is None and tech.video.codec == "unknown"
