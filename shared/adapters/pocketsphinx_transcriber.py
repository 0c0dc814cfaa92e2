"""The offline Transcriber: CMU PocketSphinx with the US English model its wheel ships."""

from __future__ import annotations

import threading
from importlib.metadata import version

import numpy as np

from shared.content.transcript import SAMPLE_RATE, AudioChunk, Word
from shared.media.models import MadeBy

FRAMES_PER_SECOND = 100  # PocketSphinx's default frame rate
NOT_WORDS = ("<", "[")  # <s>, </s>, <sil>, [NOISE]: the decoder's markers, not speech
NOISE_FLOOR = 40.0  # standard deviation in 16-bit steps: about -58 dBFS


def with_noise_floor(pcm: bytes) -> bytes:
    """The chunk with a faint, fixed noise added. Digital silence (synthetic or gated audio) has no
    energy to normalise cepstra against and the decoder mishears the words around it; a floor far
    below any real room's restores it and changes nothing audible. Seeded: the same audio gives
    the same words."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    samples += np.random.default_rng(0).normal(0.0, NOISE_FLOOR, len(samples))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


class PocketSphinxTranscriber:
    language = "en-US"

    def __init__(self) -> None:
        # Imported here so the other functions never load the model.
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        # One decoder holds one utterance at a time; a function instance serves requests on several
        # threads, so they take turns (interleaved, the decoder fails or mixes their words).
        self._one_at_a_time = threading.Lock()
        self.made_by = MadeBy(tool="pocketsphinx", version=f"{version('pocketsphinx')} (en-us model)")

    def words(self, chunk: AudioChunk) -> list[Word]:
        pcm = with_noise_floor(chunk.pcm)
        with self._one_at_a_time:
            d = self._decoder
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                return []
            return [
                Word(
                    text=s.word,
                    start=s.start_frame / FRAMES_PER_SECOND,
                    end=(s.end_frame + 1) / FRAMES_PER_SECOND,
                    confidence=round(min(1.0, max(0.0, s.prob)), 3),
                )
                for s in d.seg()
                if not s.word.startswith(NOT_WORDS)
            ]
