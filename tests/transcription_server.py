"""A local whisper server speaking the OpenAI audio API: POST /v1/audio/transcriptions, multipart
(`file`, `model`, `language`, `response_format`, `timestamp_granularities[]`), answered with
verbose JSON (`language` named in English, `text`, `words`, `segments` with `avg_logprob`) by
really transcribing the upload with faster-whisper. Scripted replies stand in for a provider's
failures: its error body, Retry-After, slow answers, bodies of the wrong shape. Every request is
kept, its form fields and file."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NAMES = {"en": "english", "de": "german", "es": "spanish", "fr": "french", "ja": "japanese"}


@dataclass
class Reply:
    status: int = 200
    error: str | None = None  # for non-2xx: {"error": {"message": …}}
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None  # a body sent as is


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


class TranscriptionServer:
    def __init__(self, model_folder: Path) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(model_folder), device="cpu", compute_type="int8")
        self.requests: list[Upload] = []
        self.script: list[Reply] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                fields, file, file_type = parse_form(self.headers.get("content-type", ""), body)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Upload(headers, fields, file, file_type))
                reply = server.script.pop(0) if server.script else Reply()
                time.sleep(reply.delay)
                if self.path != "/v1/audio/transcriptions":
                    reply = Reply(status=404, error=f"unknown path {self.path}")
                if reply.raw is not None:
                    payload = reply.raw
                elif reply.status != 200:
                    error = {"message": reply.error or "error", "type": "invalid_request_error", "code": None}
                    payload = json.dumps({"error": error}).encode()
                else:
                    payload = json.dumps(server.transcribe(dict(fields), file)).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.http.server_port}/v1"

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

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
