"""How well and at what cost Whisper base transcribes (run by hand, not part of `make test`):

    PYTHONPATH=. .venv/bin/python bench/speech.py

On the speech corpus of tests/speech_corpus.py (espeak-ng sentences in four languages and real
human speech from Debian packages): the word error rate per language and source, the language
detected, and the share of each clip's spoken content words its keywords hold. Then the cost:
cold start (model folder assembled from the packages into an empty cache, checked and loaded),
wall and CPU time per second of audio, and peak memory.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from shared.adapters.whisper_transcriber import WhisperTranscriber
from tests.speech_corpus import content_words, edits, hear, keyword_words, make_corpus, normalised, seconds


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        engine = WhisperTranscriber(Path(tmp) / "cache")
        print(f"cold start (assemble, verify, load): {time.perf_counter() - started:.2f} s")
        (Path(tmp) / "corpus").mkdir()
        clips = make_corpus(Path(tmp) / "corpus")
        errors: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        audio = wall = used = 0.0
        for clip in clips:
            wall_before, cpu_before = time.perf_counter(), cpu()
            t = hear(engine, clip)
            wall += time.perf_counter() - wall_before
            used += cpu() - cpu_before
            audio += seconds(clip.wav)
            source = "espeak-ng" if clip.name.startswith("espeak") else "human"
            said = normalised(clip.said, clip.language)
            e = edits(said, normalised(t.text, clip.language))
            errors[(clip.language, source)][0] += e
            errors[(clip.language, source)][1] += len(said)
            content = content_words(clip)
            held = len(content & keyword_words(t, clip.language)) if content else 0
            print(
                f"{clip.name:<36} {t.language or '-':>3} {e:>2}/{len(said):<3}"
                f" keywords {held}/{len(content)}  {t.text[:70]}"
            )
        print("\nword error rate:")
        for language in ("en", "de", "es", "fr"):
            parts = {s: errors[(language, s)] for s in ("espeak-ng", "human") if errors[(language, s)][1]}
            total = [sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values())]
            detail = ", ".join(f"{s} {e}/{n} = {e / n:.1%}" for s, (e, n) in parts.items())
            print(f"  {language}: {total[0] / total[1]:.1%} ({detail})")
        e_all, n_all = sum(v[0] for v in errors.values()), sum(v[1] for v in errors.values())
        print(f"  all: {e_all}/{n_all} = {e_all / n_all:.1%}")
        print(f"\n{audio:.0f} s of audio: {wall / audio:.3f} s wall and {used / audio:.3f} s CPU per audio second")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
