"""A local whisper server speaking the OpenAI audio API: POST /v1/audio/transcriptions, multipart
(`file`, `model`, `language`, `response_format`, `timestamp_granularities[]`), answered with
verbose JSON (`language` named in English, `text`, `words`, `segments` with `avg_logprob`) by
really transcribing the upload with faster-whisper. Scripted replies stand in for a provider's
failures: its error body, Retry-After, slow answers, bodies of the wrong shape. Every request is
kept, its form fields and file."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

from tests.scripted_api import Reply, ScriptedApi

__all__ = ["Reply", "TranscriptionServer"]

NAMES = {"en": "english", "de": "german", "es": "spanish", "fr": "french", "ja": "japanese"}


@dataclass
class Upload:
    headers: dict[str, str]
    fields: list[tuple[str, str]]
    file: bytes
    file_type: str


def parse_form(content_type: str, body: bytes) -> tuple[list[tuple[str, str]], bytes, str]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields, file, file_type = [], b"", ""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            file, file_type = payload, part.get_content_type()
        else:
            fields.append((str(name), payload.decode()))
    return fields, file, file_type


class TranscriptionServer(ScriptedApi):
    path = "/v1/audio/transcriptions"
    error_type = "invalid_request_error"

    def __init__(self, model_folder: Path) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(model_folder), device="cpu", compute_type="int8")
        super().__init__()

    def parse(self, headers: dict[str, str], body: bytes) -> Upload:
        fields, file, file_type = parse_form(headers.get("content-type", ""), body)
        return Upload(headers, fields, file, file_type)

    def answer(self, request: Upload, reply: Reply) -> dict[str, Any]:
        return self.transcribe(dict(request.fields), request.file)

    def transcribe(self, fields: dict[str, str], file: bytes) -> dict[str, Any]:
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(file)
            f.flush()
            segments, info = self.model.transcribe(f.name, language=fields.get("language"), word_timestamps=True)
            segments = list(segments)
        words = [
            {"word": w.word.strip(), "start": round(w.start, 2), "end": round(w.end, 2)}
            for s in segments
            for w in s.words or []
        ]
        return {
            "task": "transcribe",
            "language": NAMES.get(info.language, info.language),
            "duration": round(info.duration, 2),
            "text": "".join(s.text for s in segments).strip(),
            "words": words,
            "segments": [
                {"id": i, "start": round(s.start, 2), "end": round(s.end, 2), "text": s.text,
                 "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob}
                for i, s in enumerate(segments)
            ],
        }  # fmt: skip
