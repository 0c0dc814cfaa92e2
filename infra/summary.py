"""The metadata document as `vidpipe process` prints it for a person."""

from __future__ import annotations

from typing import Any


def summary(doc: dict[str, Any]) -> str:
    """The metadata document for a person: what the file is, what was made of it, what it says."""
    return "\n".join(technical_summary(doc) + media_summary(doc) + content_summary(doc))


def technical_summary(doc: dict[str, Any]) -> list[str]:
    tech = doc["technical"]
    lines = [
        f"video {doc['video_id']}  ({doc['source']['path']})",
        f"container {tech['container']}, {tech.get('duration_seconds')} s, {tech.get('size_bytes')} bytes, "
        f"{tech.get('bit_rate')} b/s",
    ]
    for s in tech["streams"]:
        if s["kind"] == "video":
            lines.append(
                f"video #{s['index']}: {s['codec']} {s.get('profile') or ''} {s['width']}x{s['height']} "
                f"@ {s.get('fps')} fps, {s.get('pixel_format')}, rotation {s['rotation']}"
            )
        elif s["kind"] == "audio":
            lines.append(f"audio #{s['index']}: {s['codec']} {s.get('channels')} ch @ {s.get('sample_rate')} Hz")
    for part in ("poster", "proxy", "audio"):
        ref = doc.get(part)
        lines.append(
            f"{part}: {ref['bucket']}/{ref['path']} ({ref['bytes']} bytes)"
            if ref
            else f"{part}: absent ({doc['absent'].get(part)})"
        )
    return lines


def media_summary(doc: dict[str, Any]) -> list[str]:
    """What the process step's single run measured and made."""
    lines = []
    if choice := doc.get("poster_choice"):
        lines.append(f"poster chosen: frame at {choice['time']} s, {choice['rule']} of {choice['candidates']}")
    if thumbs := doc.get("thumbnails"):
        lines.append(f"thumbnails: {len(thumbs['items'])} (every {thumbs['interval_seconds']} s, and at scene cuts)")
    if board := doc.get("storyboard"):
        lines.append(
            f"storyboard: {board['tiles']} tiles of {board['tile_width']}x{board['tile_height']} in "
            f"{len(board['sprites'])} sprite(s), {board['vtt']['path']}"
        )
    if loud := doc.get("loudness"):
        lines.append(
            f"loudness: {loud['integrated_lufs']} LUFS integrated, LRA {loud['range_lu']} LU, "
            f"true peak {loud['true_peak_dbtp']} dBTP"
        )
    if scenes := doc.get("scenes"):
        cuts = ", ".join(f"{c['time']} s" for c in scenes["cuts"])
        lines.append(f"scenes: cuts at {cuts}" if cuts else "scenes: one continuous shot")
    for part, label in (("black_segments", "black"), ("silent_segments", "silent")):
        if found := doc.get(part):
            spans = ", ".join(f"{s['start']}-{s['end']} s" for s in found["segments"]) or "none"
            lines.append(f"{label}: {spans}")
    if hls := doc.get("hls"):
        lines.append(f"hls: {hls['master']['path']} ({hls['variants']} variants)")
    return lines


def content_summary(doc: dict[str, Any]) -> list[str]:
    """What the video says: transcript, captions, chapters, keywords, title and description."""
    lines = []
    if (t := doc.get("transcript")) is None:
        lines.append(f"transcript: absent ({doc['absent'].get('transcript')})")
    elif not t["speech"]:
        lines.append(f"transcript: no speech ({t['no_speech_reason']})")
    else:
        text = t["text"] if len(t["text"]) <= 100 else t["text"][:99] + "…"
        sure = f" {t['language_probability']:.0%}" if t.get("language_probability") is not None else ""
        lines.append(f"transcript ({t['language']}{sure}, {t['word_count']} words): {text}")
    if c := doc.get("captions"):
        lines.append(f"captions: {c['cues']} cues, {c['vtt']['path']} and {c['srt']['path']}")
    if ch := doc.get("chapters"):
        lines.append("chapters:" + "".join(f"\n  {line}" for line in ch["youtube"].splitlines()))
    if k := doc.get("keywords"):
        lines.append("keywords: " + ", ".join(item["text"] for item in k["items"]))
    if s := doc.get("suggestions"):
        lines += [f"title: {s['title']}", f"description: {s['description']}"]
        if s.get("provider_error"):
            lines.append(f"  (the text generator failed, so these are extractive: {s['provider_error']})")
    return lines
