from pathlib import Path

from shared.media.analysis import (
    black_segments,
    frame_metadata,
    loudness,
    scene_cuts,
    scene_scores,
    silent_segments,
)
from shared.media.models import PictureStats
from shared.media.poster import choose_poster
from shared.media.storyboard import StoryboardLayout, webvtt
from shared.media.timecode import clock, srt_time, vtt_time

SCORES = """frame:0    pts:0       pts_time:0
lavfi.scd.mafd=0.000
lavfi.scd.score=0.000
frame:1    pts:512     pts_time:0.04
lavfi.scd.mafd=0.745
lavfi.scd.score=0.745
frame:2    pts:1024    pts_time:3.08
lavfi.scd.mafd=40.2
lavfi.scd.score=33.114
lavfi.scd.time=3.08
"""

LOG = """[blackdetect @ 0x55] black_start:6 black_end:8.96667 black_duration:2.96667
[silencedetect @ 0x56] silence_start: 4.00002
[silencedetect @ 0x56] silence_end: 7.00002 | silence_duration: 3
[silencedetect @ 0x56] silence_start: 8.5
[Parsed_ebur128_0 @ 0x57] Summary:

  Integrated loudness:
    I:         -21.8 LUFS
    Threshold: -31.9 LUFS

  Loudness range:
    LRA:         9.5 LU
    Threshold: -44.4 LUFS

  True peak:
    Peak:      -17.7 dBFS
"""


def test_scene_scores_and_cuts(tmp_path: Path):
    path = tmp_path / "scores.txt"
    path.write_text(SCORES)
    assert scene_scores(path, tmp_path / "scores.csv") == 3
    kept = tmp_path / "cuts.txt"  # the frames the run kept as cuts
    kept.write_text(SCORES[SCORES.index("frame:2") :])
    assert [(c.time, c.score) for c in scene_cuts(kept)] == [(3.08, 33.114)]
    assert (tmp_path / "scores.csv").read_text().splitlines() == ["time,score", "0.0,0.0", "0.04,0.745", "3.08,33.114"]


def test_frame_metadata_of_an_empty_file(tmp_path: Path):
    (tmp_path / "none.txt").write_text("")
    assert list(frame_metadata(tmp_path / "none.txt")) == []


def test_black_silence_and_loudness_from_the_log():
    assert [(s.start, s.end, s.duration) for s in black_segments(LOG)] == [(6.0, 8.967, 2.967)]
    assert [(s.start, s.end) for s in silent_segments(LOG, 9.0)] == [(4.0, 7.0), (8.5, 9.0)]  # the last runs out
    found = loudness(LOG)
    assert found is not None and (found.integrated_lufs, found.range_lu, found.true_peak_dbtp) == (-21.8, 9.5, -17.7)
    assert loudness("no summary here") is None


def test_silent_audio_has_no_integrated_loudness():
    found = loudness("Summary:\n  Integrated loudness:\n    I:         -inf LUFS\n  LRA:  0.0 LU\n    Peak: -inf dBFS")
    assert found is not None and found.integrated_lufs is None and found.true_peak_dbtp is None


def stats(time, mean, low, high, edges):
    return PictureStats(time=time, luma_mean=mean, luma_low=low, luma_high=high, edge_density=edges)


def test_the_poster_is_the_sharpest_usable_frame():
    choice = choose_poster(
        [
            stats(0, 16, 16, 17, 0.0),  # black
            stats(1, 120, 118, 122, 0.5),  # flat grey slate
            stats(2, 110, 40, 200, 4.0),  # soft
            stats(3, 115, 30, 220, 9.0),  # sharp and contrasted
            stats(4, 100, 35, 210, 8.0),
        ]
    )
    assert choice is not None
    assert (choice.index, choice.time, choice.rule, choice.rejected_black, choice.rejected_flat) == (
        3,
        3,
        "sharpest_of_usable",
        1,
        1,
    )


def test_when_every_frame_is_black_the_least_flat_one_is_taken():
    choice = choose_poster([stats(0, 16, 16, 16, 0.0), stats(1, 20, 16, 30, 0.2)])
    assert choice is not None and (choice.index, choice.rule) == (1, "least_flat_of_all")
    assert choose_poster([]) is None


def test_webvtt_tiles_walk_the_sheet_and_cover_the_video():
    layout = StoryboardLayout(tile_width=160, tile_height=90, columns=2, rows=2, interval_seconds=1.0)
    text = webvtt(layout, [0.0, 1.0, 2.0, 3.0, 4.0], 4.5)
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nsprite_001.jpg#xywh=0,0,160,90\n")
    assert "00:00:03.000 --> 00:00:04.000\nsprite_001.jpg#xywh=160,90,160,90" in text
    assert text.rstrip().endswith("00:00:04.000 --> 00:00:04.500\nsprite_002.jpg#xywh=0,0,160,90")
    assert vtt_time(3725.5) == "01:02:05.500"
    assert srt_time(3725.5) == "01:02:05,500"
    assert clock(125.9) == "2:05" and clock(3725.5) == "1:02:05" and clock(5, with_hours=True) == "0:00:05"
