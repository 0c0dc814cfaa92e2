"""Transcripts people can use, measured on the speech corpus (tests/speech_corpus.py) through the
real pipeline code with Whisper base: in English and Spanish the word error rate stays at or
under 10 % and the language is detected; each sentence's keywords hold two thirds of its content
words heard; noise gives no words. German and French are measured by bench/speech.py: Whisper
base does not yet reach the bar there (espeak-ng's voices in those languages defeat it)."""

from __future__ import annotations

import pytest

from shared.adapters.whisper_transcriber import WhisperTranscriber
from shared.config import Settings
from shared.content.transcript import Transcript
from tests.speech_corpus import ALSA, Clip, content_words, edits, hear, keyword_words, make_corpus, normalised, to_wav

pytestmark = pytest.mark.integration

HELD_TO_THE_BAR = ("en", "es")


@pytest.fixture(scope="module")
def engine() -> WhisperTranscriber:
    return WhisperTranscriber(Settings().model_cache_dir)


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> list[Clip]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def corpus(whole) -> list[Clip]:
    return [c for c in whole if c.language in HELD_TO_THE_BAR]


@pytest.fixture(scope="module")
def heard(corpus, engine) -> dict[str, Transcript]:
    return {clip.name: hear(engine, clip) for clip in corpus}


@pytest.mark.parametrize("language", HELD_TO_THE_BAR)
def test_the_word_error_rate_is_at_most_ten_percent(corpus, heard, language):
    clips = [c for c in corpus if c.language == language]
    errors = sum(edits(normalised(c.said, language), normalised(heard[c.name].text, language)) for c in clips)
    words = sum(len(normalised(c.said, language)) for c in clips)
    report = "\n".join(f"{c.name}: {heard[c.name].text}" for c in clips)
    assert len(clips) >= 8 and errors / words <= 0.10, f"{errors}/{words}\n{report}"


def test_the_language_is_detected(corpus, heard):
    wrong = [(c.name, heard[c.name].language) for c in corpus if heard[c.name].language != c.language]
    assert not wrong


def test_keywords_hold_two_thirds_of_each_sentences_heard_content_words(corpus, heard):
    """Of the content words spoken and heard right (a misheard word is the transcript's error,
    counted above), the keywords hold two thirds in every sentence."""
    short = []
    for clip in corpus:
        content = content_words(clip) & set(normalised(heard[clip.name].text, clip.language))
        if len(normalised(clip.said, clip.language)) < 5 or not content:
            continue  # a channel name or a card: no sentence to rank
        held = keyword_words(heard[clip.name], clip.language)
        if 3 * len(content & held) < 2 * len(content):
            short.append((clip.name, sorted(content - held), sorted(held)))
    assert not short, short


def test_noise_gives_no_words(engine, tmp_path):
    noise = to_wav(["-i", str(ALSA / "Noise.wav")], tmp_path / "noise.wav")
    got = hear(engine, Clip("noise", "en", "", noise))
    assert not got.speech and got.words == [], got.text


def test_the_corpus_has_what_it_promises(whole):
    clips = whole
    espeak = [c for c in clips if c.name.startswith("espeak")]
    assert len(espeak) >= 12 and {c.language for c in espeak} == {"en", "de", "es", "fr"}
    assert {c.language for c in clips if not c.name.startswith("espeak")} == {"en", "es", "fr"}
