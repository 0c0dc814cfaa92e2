"""What each part of generate_metadata's content work costs, on real speech.

    .venv/bin/python bench/describe.py [--minutes 10]

1. The sample clip (three 12 s scenes, a sentence spoken in each): the process step's one run
   makes the 16 kHz WAV and the measurements, then each part is timed on its own: transcript
   (Whisper base, model load apart), captions, keywords, chapters, suggestions.
2. A long recording (--minutes of espeak-ng speech with pauses, over faint noise) transcribed
   the same way, for the real-time factor and the peak memory: chunks keep memory flat.
Not part of `make test`: figures on a shared machine are for reading, not asserting.
"""

from __future__ import annotations

import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench_options import options

from infra.clips import SPEECH_SCENES, VOICE, lavfi, make_sample, run_ffmpeg
from shared.adapters.whisper_transcriber import WhisperTranscriber
from shared.config import IngestLimits, RenditionSettings, Settings
from shared.content import captions as cc
from shared.content.chapters import chapters
from shared.content.keywords import keywords
from shared.content.suggestions import VideoFacts, suggest
from shared.content.transcript import transcribe
from shared.media.confine import DecodeLimits
from shared.media.models import MadeBy
from shared.media.probe import probe
from shared.media.renditions import render
from shared.metadata.technical import technical_from_probe

T = TypeVar("T")


def timed(label: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    print(f"  {label:<28} {time.perf_counter() - started:8.3f} s")
    return result


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample(work: Path) -> None:
    clip = make_sample(work / "sample.mp4")
    tech = technical_from_probe(probe(clip), MadeBy(tool="ffprobe", version="bench"))
    print(f"sample clip: {tech.duration_seconds} s")
    limits = DecodeLimits.from_settings(IngestLimits())
    result = timed(
        "process (one ffmpeg run)",
        lambda: render(clip, work / "out", tech, RenditionSettings().rendition_options(), limits),
    )
    a = result.analysis
    wav = next(r for r in result.renditions if r.kind == "audio").main.local
    engine = timed("transcriber model load", lambda: WhisperTranscriber(Settings().model_cache_dir))
    t = timed("transcript", lambda: transcribe(engine, wav, a.silent_segments or [], tech.duration_seconds or 0))
    cues = timed("captions", lambda: cc.cues(t.words))
    utterances = t.utterances()
    ranked = timed("keywords", lambda: keywords(". ".join(u.text for u in utterances)))
    parts = timed("chapters", lambda: chapters(tech.duration_seconds or 0, a.scene_cuts, t.words))
    facts = VideoFacts(
        file_name="sample.mp4",
        duration_seconds=tech.duration_seconds or 0,
        width=1280,
        height=720,
        scenes=len(a.scene_cuts) + 1,
        utterances=utterances,
        keywords=[k.text for k in ranked],
        chapters=[c.label for c in parts],
    )
    s = timed("suggestions (extractive)", lambda: suggest(facts, None))
    print(f"  words {len(t.words)}, cues {len(cues)}, chapters {[c.label for c in parts]}, title {s.title!r}")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def long_recording(work: Path, minutes: float) -> None:
    spoken = work / "spoken.wav"
    text = " ".join(SPEECH_SCENES)
    subprocess.run(["espeak-ng", *VOICE, "-w", str(spoken), text], check=True)
    # The sentences and a 2 s pause, repeated to the length asked, over faint noise. No silences
    # are given: the whole recording is one span, cut into 20 s chunks at quiet points.
    seconds = minutes * 60
    round_trip = work / "round.wav"
    run_ffmpeg(["-i", str(spoken), "-af", "aresample=16000,apad=pad_dur=2", "-ac", "1", str(round_trip)])
    wav = work / "long.wav"
    run_ffmpeg(
        [
            "-stream_loop",
            "-1",
            "-i",
            str(round_trip),
            *lavfi(f"anoisesrc=colour=pink:amplitude=0.002:sample_rate=16000:duration={seconds}"),
            "-filter_complex",
            "[0:a][1:a]amix=inputs=2:duration=shortest:normalize=0",
            "-t",
            str(seconds),
            "-ar",
            "16000",
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            str(wav),
        ]
    )
    engine = WhisperTranscriber(Settings().model_cache_dir)
    before = rss_mb()
    started, cpu_before = time.perf_counter(), cpu_seconds()
    t = transcribe(engine, wav, [], seconds)
    took, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    print(f"long recording: {minutes:g} min of speech, {wav.stat().st_size / 1e6:.0f} MB of WAV")
    print(
        f"  transcript {took:.1f} s (real-time factor {took / seconds:.3f}; CPU {cpu / seconds:.3f} s"
        f" per audio second), {len(t.words)} words"
    )
    print(f"  peak RSS {rss_mb():.0f} MB (before transcribing: {before:.0f} MB)")


def main() -> None:
    args = options(__doc__, minutes=10.0)
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as tmp:
        work = Path(tmp)
        (work / "out").mkdir()
        sample(work)
        long_recording(work, args.minutes)


if __name__ == "__main__":
    main()
