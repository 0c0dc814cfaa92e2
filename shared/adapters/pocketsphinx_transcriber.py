"""The offline Transcriber: CMU PocketSphinx with the US English model its wheel ships."""

from __future__ import annotations

from importlib.metadata import version

from shared.content.transcript import SAMPLE_RATE, AudioChunk, Word
from shared.metadata.technical import MadeBy

FRAMES_PER_SECOND = 100          # PocketSphinx's default frame rate
NOT_WORDS = ("<", "[")           # <s>, </s>, <sil>, [NOISE]: the decoder's markers, not speech


class PocketSphinxTranscriber:
    language = "en-US"

    def __init__(self) -> None:
        # Imported here so the other functions never load the model.
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self.made_by = MadeBy(tool="pocketsphinx", version=f"{version('pocketsphinx')} (en-us model)")

    def words(self, chunk: AudioChunk) -> list[Word]:
        d = self._decoder
        d.start_utt()
        d.process_raw(chunk.pcm, full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            return []
        return [Word(text=s.word, start=s.start_frame / FRAMES_PER_SECOND,
                     end=(s.end_frame + 1) / FRAMES_PER_SECOND, confidence=round(min(1.0, max(0.0, s.prob)), 3))
                for s in d.seg() if not s.word.startswith(NOT_WORDS)]
