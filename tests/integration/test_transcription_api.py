"""The hosted Transcriber against a local whisper server speaking the OpenAI audio API
(tests/transcription_server.py): the request's shape (multipart WAV, model, verbose JSON, word
timestamps, bearer key), its answer turned into words and a language, and the same failure
handling as every hosted API: retries after Retry-After, final refusals, timeouts, unusable
bodies, and never a key in a message or a provider's words in a document."""

from __future__ import annotations

import io
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.clips import VOICE, run_ffmpeg
from shared.adapters.transcription_api import TranscriptionApi
from shared.adapters.whisper_model import model_folder
from shared.config import Settings
from shared.content.transcript import TranscriptionError, transcribe
from tests.transcription_server import Reply, TranscriptionServer

pytestmark = pytest.mark.integration

SENTENCE = "Our football team won the championship game."


@pytest.fixture(scope="module")
def server() -> Iterator[TranscriptionServer]:
    s = TranscriptionServer(model_folder(Settings().model_cache_dir))
    yield s
    s.close()


@pytest.fixture(autouse=True)
def fresh(server) -> None:
    server.requests.clear()
    server.script.clear()


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("speech")
    subprocess.run(["espeak-ng", *VOICE, "-w", str(root / "s.wav"), SENTENCE], check=True)
    out = root / "s16.wav"
    run_ffmpeg(
        ["-i", str(root / "s.wav"), "-af", "adelay=1000:all=1,apad=pad_dur=1", "-ar", "16000", "-ac", "1", str(out)]
    )
    return out


def engine(
    server: TranscriptionServer, timeout: float = 30.0, attempts: int = 2, key: str | None = "sk-test"
) -> TranscriptionApi:
    return TranscriptionApi(requests.Session(), server.base_url + "/", "whisper-1", key, timeout, attempts)


def seconds(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def test_a_chunk_goes_up_as_wav_and_comes_back_as_timed_words(server, spoken):
    got = transcribe(engine(server), spoken, [], seconds(spoken))
    assert got.speech and got.language == "en" and got.language_probability is None
    assert {"football", "team", "championship"} <= {w.text.strip(".,").lower() for w in got.words}
    assert 0.8 < got.words[0].start < got.words[-1].end < seconds(spoken)
    assert all(0 < w.confidence <= 1 for w in got.words)
    (sent,) = server.requests
    assert sent.headers["authorization"] == "Bearer sk-test" and sent.file_type == "audio/wav"
    assert ("model", "whisper-1") in sent.fields and ("response_format", "verbose_json") in sent.fields
    assert ("timestamp_granularities[]", "word") in sent.fields
    assert not any(name == "language" for name, _ in sent.fields)  # the first chunk: detected
    with wave.open(io.BytesIO(sent.file)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)


def test_a_known_language_is_sent(server, spoken):
    from shared.content.transcript import AudioChunk

    engine(server).hear(AudioChunk(start=0.0, pcm=spoken.read_bytes()[44:]), "en")
    assert ("language", "en") in server.requests[0].fields


def test_429_is_retried_after_the_servers_retry_after(server, spoken):
    server.script = [Reply(status=429, error="Rate limit reached", headers={"Retry-After": "0.5"})]
    started = time.monotonic()
    got = transcribe(engine(server), spoken, [], seconds(spoken))
    assert got.speech and len(server.requests) == 2 and time.monotonic() - started >= 0.5


KEY_ECHO = "Incorrect API key provided: sk-te**st-9f8e7d6c5b"
UNUSABLE = ("the reply is not verbose JSON with word timestamps", "the answer was not usable")


@pytest.mark.parametrize(
    "reply, logged, public",
    [
        (Reply(status=401, error=KEY_ECHO), "HTTP 401: Incorrect API key provided", "the API answered HTTP 401"),
        (
            Reply(status=400, error="Invalid file format."),
            "HTTP 400: Invalid file format.",
            "the API answered HTTP 400",
        ),
        (Reply(raw=b'{"text": "no words here"}'), *UNUSABLE),
        (Reply(raw=b"<html>gateway</html>"), *UNUSABLE),
    ],
)
def test_a_final_failure_is_an_error_with_both_texts(server, spoken, reply, logged, public):
    server.script = [reply]
    with pytest.raises(TranscriptionError) as info:
        transcribe(engine(server), spoken, [], seconds(spoken))
    assert str(info.value).startswith(logged) and info.value.public == public
    assert "sk-te" not in str(info.value) and "9f8e7d6c5b" not in str(info.value)
    assert len(server.requests) == 1  # not worth asking again


def test_server_errors_and_slow_answers_exhaust_the_attempts(server, spoken):
    server.script = [Reply(status=503, error="overloaded", headers={"Retry-After": "0"})] * 2
    with pytest.raises(TranscriptionError, match=r"HTTP 503: overloaded \(after 2 attempts\)"):
        transcribe(engine(server), spoken, [], seconds(spoken))
    server.script = [Reply(delay=1.5), Reply(delay=1.5)]
    with pytest.raises(TranscriptionError, match=r"no answer within 0.5 s \(after 2 attempts\)") as info:
        transcribe(engine(server, timeout=0.5), spoken, [], seconds(spoken))
    assert info.value.public == "the API did not answer in time"
