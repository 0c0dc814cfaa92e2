"""The default Transcriber: Whisper base through faster-whisper (CTranslate2 on the CPU, int8),
offline, multilingual.

The model folder comes from shared.adapters.whisper_model (assembled from PyPI packages, checked
against pinned hashes); it is loaded once per function instance. Silero's voice-activity
detector (inside the faster-whisper wheel) drops what is not speech before Whisper sees it, and
Whisper's own no-speech and log-probability rules drop what is left of music or noise: Whisper's
known failure is inventing a polite sentence over silence or a tune.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from shared.adapters.whisper_model import MODEL_NAME, model_folder
from shared.content.transcript import AudioChunk, Heard, Word, language_contenders
from shared.media.models import MadeBy


class WhisperTranscriber:
    def __init__(self, cache: Path, threads: int = 0) -> None:
        # Imported here so the other functions never load CTranslate2.
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(model_folder(cache)), device="cpu", compute_type="int8", cpu_threads=threads)
        # One decode at a time per instance: concurrent requests would share the CPU anyway and
        # each would hold its own working memory.
        self._one_at_a_time = threading.Lock()
        self.made_by = MadeBy(tool="faster-whisper", version=f"{version('faster-whisper')} ({MODEL_NAME}, int8)")

    def hear(self, chunk: AudioChunk, language: str | None) -> Heard:
        samples = np.frombuffer(chunk.pcm, dtype="<i2").astype(np.float32) / 32768.0
        with self._one_at_a_time:
            # The segments come lazily: detection happens here, decoding only when they are read.
            lazy, info = self._transcribe(samples, language)
            if language is not None:
                return Heard(whole_words(w for s in lazy for w in s.words or []), language, 1.0)
            ranked = info.all_language_probs or [(info.language, info.language_probability)]
            # Unsure: decoded in each contender, the reading the model finds most probable wins.
            readings = []
            for candidate, probability in language_contenders(ranked):
                segments = list(lazy if candidate == info.language else self._transcribe(samples, candidate)[0])
                readings.append((log_probability(segments), candidate, probability, segments))
            _, language, probability, segments = max(readings, key=lambda r: r[0])
            words = whole_words(w for segment in segments for w in segment.words or [])
        return Heard(words=words, language=language, probability=round(probability, 3))

    def _transcribe(self, samples: np.ndarray[Any, Any], language: str | None) -> tuple[Iterable[Any], Any]:
        return self._model.transcribe(  # type: ignore[no-any-return]
            samples,
            language=language,
            word_timestamps=True,
            vad_filter=True,
            condition_on_previous_text=False,  # a misheard phrase must not seed the next
            beam_size=5,
        )


def log_probability(segments: list[Any]) -> float:
    """How probable the model finds a reading: its segments' mean token log-probability, by
    length. Nothing heard is the least probable reading."""
    spans = [(float(s.avg_logprob), max(float(s.end - s.start), 0.01)) for s in segments]
    if not spans:
        return float("-inf")
    return sum(p * d for p, d in spans) / sum(d for _, d in spans)


def whole_words(pieces: Iterable[Any]) -> list[Word]:
    """Whisper's words as people write them. A piece without a leading space continues the word
    before it ("d" + "'agent", "ill" + "-disposed"); joined with spaces they would read
    "d 'agent". The word's confidence is its least sure piece's."""
    words: list[Word] = []
    for piece in pieces:
        text = piece.word.strip()
        if not text:
            continue
        confidence = round(min(1.0, max(0.0, piece.probability)), 3)
        if words and not piece.word.startswith(" "):
            last = words[-1]
            joined = {"text": last.text + text, "end": round(piece.end, 3)}
            words[-1] = last.model_copy(update={**joined, "confidence": min(last.confidence, confidence)})
        else:
            words.append(Word(text=text, start=round(piece.start, 3), end=round(piece.end, 3), confidence=confidence))
    return words
