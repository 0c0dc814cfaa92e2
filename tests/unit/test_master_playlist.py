"""The master playlist: each variant's bandwidth measured on its stored segments, the ladder's
rungs as ffmpeg described them, lowest bandwidth first, and none for a single rendition."""

from pathlib import Path

from shared.media.master import Variant, ladder_variants, master_rendition, measured_variant


def media_playlist(folder: Path, segments: list[tuple[float, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"#EXTINF:{seconds:.6f},\n{name}\n" for seconds, name in segments)
    (folder / "index.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n{body}#EXT-X-ENDLIST\n")


def test_bandwidth_is_the_peak_and_the_mean_of_the_stored_segments(tmp_path):
    media_playlist(tmp_path / "play", [(6.0, "segment_00000.ts"), (2.0, "segment_00001.ts")])
    stored = {"play/segment_00000.ts": 750_000, "play/segment_00001.ts": 500_000}  # 1 and 2 Mb/s
    variant = measured_variant(tmp_path, "play", stored, 1920, 1080, 25.0)
    assert variant == Variant(
        "play/index.m3u8", "BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1250000,RESOLUTION=1920x1080,FRAME-RATE=25.000"
    )
    assert measured_variant(tmp_path, "proxy_hls", stored, 1280, 720, None) is None  # no such playlist


def test_the_master_lists_the_cheapest_first_with_the_ladder_and_needs_two(tmp_path):
    (tmp_path / "hls").mkdir()
    (tmp_path / "hls/master.m3u8").write_text(
        '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=3080000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n'
        "0/index.m3u8\n"
    )
    source = Variant("play/index.m3u8", "BANDWIDTH=9000000,RESOLUTION=1920x1080")
    proxy = Variant("proxy_hls/index.m3u8", "BANDWIDTH=1500000,RESOLUTION=1280x720")
    ladder = ladder_variants(tmp_path)
    assert ladder == [
        Variant("hls/0/index.m3u8", 'BANDWIDTH=3080000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"')
    ]
    master = master_rendition(tmp_path, [source, proxy, *ladder])
    assert master is not None and master.kind == "playback" and master.main.key == "master.m3u8"
    text = (tmp_path / "master.m3u8").read_text().splitlines()
    assert text[:3] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert text[4::2] == ["proxy_hls/index.m3u8", "hls/0/index.m3u8", "play/index.m3u8"]
    assert master_rendition(tmp_path, [proxy]) is None
