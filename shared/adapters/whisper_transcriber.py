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
from importlib.metadata import version
from pathlib import Path

import numpy as np

from shared.adapters.whisper_model import MODEL_NAME, model_folder
from shared.content.transcript import AudioChunk, Heard, Word
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
            segments, info = self._model.transcribe(
                samples,
                language=language,
                word_timestamps=True,
                vad_filter=True,
                condition_on_previous_text=False,  # a misheard phrase must not seed the next
                beam_size=5,
            )
            words = [
                Word(
                    text=w.word.strip(),
                    start=round(w.start, 3),
                    end=round(w.end, 3),
                    confidence=round(min(1.0, max(0.0, w.probability)), 3),
                )
                for segment in segments
                for w in segment.words or []
                if w.word.strip()
            ]
        return Heard(words=words, language=info.language, probability=round(info.language_probability, 3))
