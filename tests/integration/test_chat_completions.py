"""The chat completions adapter against a local server speaking that API's shapes: the request
it sends, and every way an answer can disappoint (errors, Retry-After, timeouts, refusals,
cut-off and malformed replies), each a TextGenerationError with a short reason."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared.adapters.chat_completions import ChatCompletionsTextGenerator
from shared.content.suggestions import TextGenerationError, VideoFacts, suggest
from shared.content.transcript import Utterance
from tests.chat_server import ChatServer, Reply

FACTS = VideoFacts(
    file_name="kitchen.mp4",
    duration_seconds=36.0,
    width=640,
    height=360,
    scenes=3,
    utterances=[Utterance(start=1, end=6, text="today we cook pasta with fresh tomato sauce")],
    keywords=["tomato sauce", "cook pasta"],
    chapters=["Tomato sauce", "Scene 2", "Scene 3"],
)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    s = ChatServer()
    yield s
    s.close()


def generator(server: ChatServer, timeout: float = 2.0, attempts: int = 2, key: str | None = "sk-k") -> Any:
    made = ChatCompletionsTextGenerator(requests.Session(), server.base_url + "/", "m-1", key, timeout, attempts)
    made.max_transcript_chars = 20  # a short cut, to see it made
    return made


def test_the_request_has_the_api_shape_and_the_answer_is_used(server):
    got = generator(server).suggest(FACTS)
    assert got.title == "Model title: tomato sauce, cook pasta"
    ((headers, body),) = server.requests
    assert headers["authorization"] == "Bearer sk-k" and headers["content-type"] == "application/json"
    assert body["model"] == "m-1" and body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    facts = json.loads(body["messages"][1]["content"])
    assert facts == {
        "file_name": "kitchen.mp4",
        "duration_seconds": 36.0,
        "keywords": ["tomato sauce", "cook pasta"],
        "chapters": ["Tomato sauce", "Scene 2", "Scene 3"],
        "transcript": "today we cook pasta ",
    }


def test_no_key_sends_no_authorization(server):
    generator(server, key=None).suggest(FACTS)
    assert "authorization" not in server.requests[0][0]


def test_a_fenced_json_answer_is_accepted(server):
    server.script = [Reply(content='```json\n{"title": "T", "description": "D"}\n```')]
    assert generator(server).suggest(FACTS).title == "T"


@pytest.mark.parametrize(
    "reply, reason",
    [
        (Reply(status=401, error="Incorrect API key provided: sk-k***"), "HTTP 401: Incorrect API key provided"),
        (Reply(status=400, error="model m-1 does not exist"), "HTTP 400: model m-1 does not exist"),
        (Reply(status=404, raw=b"<html>not here</html>"), "HTTP 404: <html>not here</html>"),
        (Reply(content="Sure! Here is a title: Pasta"), "no JSON object with a title and a description"),
        (Reply(content='{"title": "T"}'), "no JSON object with a title and a description"),
        (Reply(content='{"title": 3, "description": "D"}'), "title or description is not text"),
        (Reply(content='{"title": "T", "descr', finish_reason="length"), "cut off at the token limit"),
        (Reply(refusal="I can't help with that."), "the model refused: I can't help with that."),
        (Reply(raw=b'{"object": "list", "data": []}'), "not a chat completion"),
        (Reply(raw=b"not json at all"), "not a chat completion"),
    ],
)
def test_a_disappointing_answer_is_an_error_with_a_reason(server, reply, reason):
    server.script = [reply]
    with pytest.raises(TextGenerationError, match=reason.replace("(", r"\(").replace("?", r"\?")):
        generator(server).suggest(FACTS)
    assert len(server.requests) == 1  # not worth asking again


def test_the_key_is_never_quoted_back_in_an_error(server):
    server.script = [Reply(status=401, error="Incorrect API key provided: sk-k. Find your key at …")]
    with pytest.raises(TextGenerationError) as info:
        generator(server).suggest(FACTS)
    assert "sk-k" not in str(info.value) and "[key]" in str(info.value)


@pytest.mark.parametrize(
    "echo",
    [
        "Incorrect API key provided: sk-proj-Ab1***********************xYz9.",  # starred out
        "Invalid token sk-live-0123456789abcdef0123 (mangled)",
        "Authorization Bearer abc.def.ghi rejected",
        "bad key AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 for org-1",
    ],
)
def test_a_mangled_key_echoed_back_never_reaches_the_document(server, echo):
    """The key the adapter holds is not what the provider quotes: key-shaped text is redacted
    in the log's message, and the owner's document gets a fixed sentence, no provider text."""
    server.script = [Reply(status=401, error=echo)]
    with pytest.raises(TextGenerationError) as info:
        generator(server, key="sk-proj-Ab1c0ffee").suggest(FACTS)
    logged = str(info.value)
    assert logged.startswith("HTTP 401:") and "[key]" in logged
    for secret in ("xYz9", "0123456789abcdef0123", "abc.def.ghi", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"):
        assert secret not in logged
    server.script = [Reply(status=401, error=echo)]
    got = suggest(FACTS, generator(server, key="sk-proj-Ab1c0ffee"))
    assert got.provider_error == "the API answered HTTP 401"


def test_429_is_retried_after_the_servers_retry_after(server):
    server.script = [Reply(status=429, error="Rate limit reached", headers={"Retry-After": "0.5"})]
    started = time.monotonic()
    got = generator(server).suggest(FACTS)
    assert got.title.startswith("Model title") and len(server.requests) == 2
    assert time.monotonic() - started >= 0.5


def test_server_errors_exhaust_the_attempts(server):
    server.script = [Reply(status=503, error="overloaded", headers={"Retry-After": "0"})] * 2
    with pytest.raises(TextGenerationError, match=r"HTTP 503: overloaded \(after 2 attempts\)"):
        generator(server).suggest(FACTS)
    assert len(server.requests) == 2


def test_a_slow_answer_times_out(server):
    server.script = [Reply(delay=1.5), Reply(delay=1.5)]
    started = time.monotonic()
    with pytest.raises(TextGenerationError, match=r"no answer within 0.5 s \(after 2 attempts\)"):
        generator(server, timeout=0.5).suggest(FACTS)
    assert time.monotonic() - started < 4


def test_an_unreachable_api_is_an_error(server):
    server.close()
    with pytest.raises(TextGenerationError, match=r"the request failed \(ConnectionError\)"):
        generator(server, attempts=1).suggest(FACTS)


def test_suggest_falls_back_and_records_the_reason(server):
    server.script = [Reply(status=500, error="boom", headers={"Retry-After": "0"})] * 2
    got = suggest(FACTS, generator(server))
    assert got.provider_error == "the API answered HTTP 500"  # no provider text in the document
    assert got.title == "Tomato Sauce and Cook Pasta" and got.made_by.tool == "vidpipe extractive summary"
