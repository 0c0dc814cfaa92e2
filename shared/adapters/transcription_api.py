"""A Transcriber on any OpenAI-compatible `audio/transcriptions` API (OpenAI, Groq, a local
whisper server): each chunk goes up as a 16 kHz WAV and comes back as verbose JSON with word
timestamps. Failures are handled as for every hosted API (shared/adapters/hosted_api.py) and
end as a TranscriptionError: the video is then described without a transcript, the reason in
its document, the provider's words in the log."""

from __future__ import annotations

import io
import math
import wave
from typing import Any

import requests

from shared.adapters.hosted_api import HostedModel
from shared.content.transcript import SAMPLE_RATE, AudioChunk, Heard, TranscriptionError, Word

# verbose_json names the language in English ("english"; some servers "English" or the code).
LANGUAGE_CODES = {"english": "en", "german": "de", "spanish": "es", "french": "fr"}


def as_wav(chunk: AudioChunk) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(chunk.pcm)
    return out.getvalue()


class TranscriptionApi(HostedModel):
    path = "/audio/transcriptions"
    failure = TranscriptionError
    tool = "audio transcriptions API"

    def hear(self, chunk: AudioChunk, language: str | None) -> Heard:
        form: list[tuple[str, str]] = [
            ("model", self._model),
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "word"),
            ("timestamp_granularities[]", "segment"),
        ]
        if language:
            form.append(("language", language))
        response = self._api.post(data=form, files={"file": ("chunk.wav", as_wav(chunk), "audio/wav")})
        try:
            return parse_reply(response, language)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._api.unusable("the reply is not verbose JSON with word timestamps") from None


def parse_reply(response: requests.Response, asked: str | None) -> Heard:
    """Words and language from a verbose JSON answer; ValueError, KeyError or TypeError when it
    is not one."""
    body: dict[str, Any] = response.json()
    pieces = body["words"]  # a server that ignores timestamp_granularities sends none: unusable
    segments = body.get("segments") or []
    if not isinstance(pieces, list):
        raise TypeError("words is not a list")
    words = [
        Word(
            text=str(p["word"]).strip(),
            start=round(float(p["start"]), 3),
            end=round(float(p["end"]), 3),
            confidence=_confidence(float(p["start"]), segments),
        )
        for p in pieces
        if str(p["word"]).strip()
    ]
    named = str(body.get("language") or asked or "").strip().lower()
    return Heard(words=words, language=LANGUAGE_CODES.get(named, named), probability=None)


def _confidence(at: float, segments: list[dict[str, Any]]) -> float:
    """The API gives no word probabilities: the segment's mean token probability stands in (1 when
    the server sends no segments)."""
    for s in segments:
        if float(s.get("start", 0)) <= at < float(s.get("end", 0)) and "avg_logprob" in s:
            return round(min(1.0, math.exp(float(s["avg_logprob"]))), 3)
    return 1.0
