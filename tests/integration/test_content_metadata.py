"""What a video says, through the real functions: a generated clip of three scenes, a sentence
spoken (espeak-ng) in each, transcribed offline by Whisper, with captions, chapters,
keywords and suggestions in a document that validates against the exported JSON Schema."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from infra.clips import SPEECH_SCENES
from shared.metadata.document import SCHEMA_FILE, MetadataDocument
from tests.chat_server import ChatServer, Reply
from tests.integration.doors import USER, event_for, job_row, post, redeploy, upload
from tests.media_checks import subtitle_cues

pytestmark = pytest.mark.integration
KEY = "sk-test-not-a-secret"  # what the hosted APIs are called with; it must reach no document

CUTS = [0.0, 12.0, 24.0]  # where the clip's scenes start
# Words of the spoken sentences that carry meaning (not articles, pronouns, prepositions…).
NOT_CONTENT = {"the", "to", "we", "our", "with", "about", "and"}
CONTENT_WORDS = {w for s in SPEECH_SCENES for w in re.findall(r"[a-z]+", s.lower())} - NOT_CONTENT


def describe(conn: Any, env: Path, clip: Path, name: str = f"{USER}/kitchen_football_and_politics.mp4") -> dict:
    upload(conn, env, clip, name)
    for step in ("ingest", "process", "generate_metadata"):
        answer = post(step, event_for(conn, step))
        assert answer.get_json()["outcome"] in ("done", "accepted") and answer.status_code < 300, answer.get_json()
    job = job_row(conn)
    assert job is not None and job["status"] == "ready"
    document: dict = conn.execute("select document from video_metadata").fetchone()["document"]
    Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)  # as a consumer would
    return document


def test_a_spoken_clip_gets_transcript_captions_chapters_keywords_and_suggestions(env, conn, clips):
    doc = MetadataDocument.model_validate(describe(conn, env, clips["speech"]))
    assert doc.schema_version == 5

    t = doc.transcript
    assert t is not None and t.speech and t.language == "en" and t.made_by.tool == "faster-whisper"
    assert t.language_probability is not None and t.language_probability > 0.5
    assert t.word_count >= 12 and t.mean_confidence is not None and t.mean_confidence > 0.5
    # Runs of speech (split at pauses of 0.6 s: a sentence's end may be one) inside their scene,
    # each scene's first where its sentence starts.
    by_scene = {cut: [s for s in t.segments if cut <= s.start < cut + 12] for cut in CUTS}
    assert sum(len(runs) for runs in by_scene.values()) == len(t.segments)
    for cut, runs in by_scene.items():
        assert runs and cut + 0.5 < runs[0].start < cut + 2 and runs[-1].end < cut + 12
    assert t.words is not None
    words = json.loads((env / t.words.bucket / t.words.path).read_text())["words"]
    assert [w["text"] for w in words] == t.text.split()

    c = doc.captions
    assert c is not None and c.cues >= 3
    for ref in (c.vtt, c.srt):
        path = env / ref.bucket / ref.path
        assert path.stat().st_size == ref.bytes
        cues = subtitle_cues(path)  # ffprobe's own parsers read them
        assert len(cues) == c.cues
        assert all(1.0 <= end - start <= 7.0 for start, end in cues)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))
    vtt = (env / c.vtt.bucket / c.vtt.path).read_text()
    text_lines = [line for block in vtt.split("\n\n")[1:] for line in block.splitlines()[1:]]
    assert text_lines and all(0 < len(line) <= 42 for line in text_lines)
    assert all(len(block.splitlines()) <= 3 for block in vtt.split("\n\n")[1:])  # timing + at most 2 lines

    ch = doc.chapters
    assert ch is not None and len(ch.items) == 3 and ch.youtube_ready and ch.min_seconds == 10
    for chapter, cut in zip(ch.items, CUTS, strict=True):
        assert abs(chapter.start - cut) <= 0.5
        assert not chapter.label.startswith("Scene")  # each has speech to name it by
    assert ch.youtube.splitlines()[0].startswith("0:00 ") and ch.youtube.splitlines()[1].startswith("0:12 ")

    k = doc.keywords
    assert k is not None and k.made_by.tool == "yake" and k.tags
    covered = {w for item in k.items for w in item.text.split()} & CONTENT_WORDS
    assert len(covered) * 2 >= len(CONTENT_WORDS), (sorted(covered), sorted(CONTENT_WORDS))

    s = doc.suggestions
    assert s is not None and s.provider_error is None and s.made_by.tool == "vidpipe extractive summary"
    assert s.title and any(w in s.title.lower() for w in CONTENT_WORDS)
    assert "36-second video (640x360) in 3 chapters" in s.description

    kinds = {a["kind"] for a in conn.execute("select kind from video_artifacts")}
    assert {"transcript", "captions_vtt", "captions_srt"} <= kinds
    assert not {"transcript", "captions", "keywords", "chapters", "suggestions"} & set(doc.absent)


def test_a_video_without_audio_says_why_it_has_no_transcript(env, conn, clips):
    doc = MetadataDocument.model_validate(describe(conn, env, clips["silent"], f"{USER}/holiday-in-rome.mp4"))
    assert doc.transcript is None and doc.captions is None and doc.keywords is None
    for part in ("transcript", "captions", "keywords"):
        assert doc.absent[part] == "the source has no audio stream"
    assert doc.suggestions is not None and doc.suggestions.title == "Holiday in Rome"
    assert doc.chapters is not None and doc.chapters.items[0].label == "Scene 1"


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch, env: Path) -> Any:
    server = ChatServer()
    redeploy(
        monkeypatch,
        text_generator="chat_completions",
        text_api_base_url=server.base_url,
        text_model="test-model-1",
        text_api_key=KEY,
        text_timeout_seconds="1",
    )
    yield server
    server.close()


def test_a_configured_chat_completions_api_writes_the_suggestions(env, conn, clips, chat):
    doc = MetadataDocument.model_validate(describe(conn, env, clips["speech"]))
    s = doc.suggestions
    assert s is not None and s.provider_error is None
    assert s.made_by.tool == "chat completions API" and s.made_by.version == "test-model-1"
    assert s.title.startswith("Model title: ") and s.description.startswith("Model description of")
    ((headers, body),) = chat.requests
    assert headers["authorization"] == f"Bearer {KEY}"
    facts = json.loads(body["messages"][1]["content"])
    assert body["model"] == "test-model-1" and body["messages"][0]["role"] == "system"
    assert "tomato" in facts["transcript"] and facts["keywords"] and len(facts["chapters"]) == 3


def test_a_failing_chat_completions_api_leaves_the_default_and_the_reason(env, conn, clips, chat):
    chat.script = [Reply(status=401, error="Incorrect API key provided")]
    doc = MetadataDocument.model_validate(describe(conn, env, clips["plain"], f"{USER}/clip.mp4"))
    s = doc.suggestions
    assert s is not None and s.made_by.tool == "vidpipe extractive summary" and s.title == "Clip"
    assert s.provider_error == "the API answered HTTP 401"  # the provider's own words stay in the log
    assert "sk-test" not in json.dumps(doc.model_dump(mode="json"))


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch, env: Path) -> Any:
    from shared.adapters.whisper_model import model_folder
    from shared.config import Settings
    from tests.transcription_server import TranscriptionServer

    server = TranscriptionServer(model_folder(Settings().model_cache_dir))
    redeploy(monkeypatch, transcriber="api", transcription_api_base_url=server.base_url, transcription_api_key=KEY)
    yield server
    server.close()


def test_a_hosted_transcription_api_hears_the_clip(env, conn, clips, hosted):
    doc = MetadataDocument.model_validate(describe(conn, env, clips["speech"]))
    t = doc.transcript
    assert t is not None and t.speech and t.language == "en" and t.made_by.tool == "audio transcriptions API"
    assert {"football", "championship"} <= {w.strip(".,").lower() for w in t.text.split()}
    assert doc.captions is not None and doc.keywords is not None


def test_a_failing_hosted_transcription_leaves_the_video_described_without_a_transcript(env, conn, clips, hosted):
    from tests.transcription_server import Reply as ApiReply

    hosted.script = [ApiReply(status=401, error=f"Incorrect API key provided: {KEY}")]
    doc = MetadataDocument.model_validate(describe(conn, env, clips["speech"]))
    assert doc.transcript is None and doc.absent["transcript"] == "the transcription failed: the API answered HTTP 401"
    assert doc.chapters is not None  # the rest of the description is made
    assert "sk-test" not in json.dumps(doc.model_dump(mode="json"))
