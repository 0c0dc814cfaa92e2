"""Captions, keywords, chapters, suggestions and the transcript's chunking, on hand-made inputs."""

import itertools
import math
import wave
from pathlib import Path

import numpy as np
import pytest

from shared.content import captions as cc
from shared.content.chapters import ChapterRules, chapters, youtube_list, youtube_ready
from shared.content.keywords import FILLER, keywords, tags
from shared.content.suggestions import (
    Suggestion,
    TextGenerationError,
    VideoFacts,
    clean,
    extractive,
    name_title,
    suggest,
)
from shared.content.transcript import (
    SAMPLE_RATE,
    AudioChunk,
    AudioFormatError,
    Heard,
    Transcript,
    Utterance,
    Word,
    audio_chunks,
    decibels,
    frame_energies,
    low_energy_ratio,
    snap_onsets,
    sounding_spans,
    sounds_like_speech,
    transcribe,
)
from shared.media.models import MadeBy, SceneCut, Segment

BY = MadeBy(tool="test", version="1")


def words_at(text: str, start: float, per_word: float = 0.4, gap: float = 0.05) -> list[Word]:
    out, t = [], start
    for w in text.split():
        out.append(Word(text=w, start=round(t, 3), end=round(t + per_word, 3), confidence=0.9))
        t += per_word + gap
    return out


# --- captions ---------------------------------------------------------------------------------


def test_wrap_balances_two_lines_and_cuts_overlong_words():
    assert cc.wrap("welcome to the kitchen today we cook pasta with fresh tomato sauce", 42) == [
        "welcome to the kitchen today we",
        "cook pasta with fresh tomato sauce",
    ]
    assert cc.wrap("short", 42) == ["short"]
    assert cc.wrap("x" * 50, 42) == ["x" * 42, "x" * 8]


def test_cues_keep_to_the_style_rules_on_long_unbroken_speech():
    speech = words_at(" ".join(["tomorrow", "we", "travel", "north", "to", "the", "mountains"] * 30), 0.0)
    cues = cc.cues(speech)
    assert len(cues) > 10
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)
        assert 1.0 - 1e-6 <= cue.end - cue.start <= 7.0 + 1e-6
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))  # never overlap
    assert " ".join(" ".join(c.lines) for c in cues) == " ".join(w.text for w in speech)  # nothing lost


def test_a_pause_starts_a_new_cue_and_short_cues_stay_up_a_second():
    speech = [*words_at("hello there", 1.0, per_word=0.2), *words_at("goodbye", 5.0, per_word=0.2)]
    first, second = cc.cues(speech)
    assert first.lines == ("hello there",) and second.lines == ("goodbye",)
    assert first.end == pytest.approx(2.0) and second.end == pytest.approx(6.0)


def test_a_short_cue_never_runs_into_the_next():
    speech = [*words_at("one", 1.0, per_word=0.2), *words_at("two", 1.9, per_word=0.2)]
    first, _ = cc.cues(speech, cc.CaptionRules(pause_seconds=0.5))
    assert first.end == pytest.approx(1.9)


def test_webvtt_and_srt_text():
    cues = [cc.Cue(start=0.96, end=6.67, lines=("fish & <chips>", "today")), cc.Cue(3725.5, 3727.0, ("end",))]
    assert cc.webvtt(cues) == (
        "WEBVTT\n\n00:00:00.960 --> 00:00:06.670\nfish &amp; &lt;chips&gt;\ntoday\n\n"
        "01:02:05.500 --> 01:02:07.000\nend\n"
    )
    assert cc.srt(cues) == (
        "1\n00:00:00,960 --> 00:00:06,670\nfish & <chips>\ntoday\n\n2\n01:02:05,500 --> 01:02:07,000\nend\n"
    )


# --- keywords ---------------------------------------------------------------------------------

TEXT = (
    "um so yeah welcome to the kitchen. today we cook pasta with fresh tomato sauce. "
    "the tomato sauce needs fresh tomatoes. our football team won the championship game. "
    "you know the championship game was really long. the president spoke about the economy and jobs"
)


def test_keywords_are_ranked_content_phrases_without_filler_or_duplicates():
    ranked = keywords(TEXT)
    texts = [k.text for k in ranked]
    assert texts[0] in ("fresh tomato sauce", "tomato sauce")
    assert [k.score for k in ranked] == sorted(k.score for k in ranked)
    tokens = {t for k in texts for t in k.split()}
    assert not tokens & FILLER and not tokens & {"the", "to", "we", "about", "and", "with", "you"}
    assert len(texts) == len(set(texts))
    assert not ({"tomato sauce", "tomato sauces"} <= set(texts))
    for word in ("kitchen", "pasta", "football", "championship", "president", "economy", "jobs"):
        assert any(word in k for k in texts), word


@pytest.mark.parametrize(
    ("language", "text", "one_of"),
    [
        ("en", "The valleys are green. We walked through the valley. Green valleys everywhere.", "valley"),
        ("en", "Old houses line the river. The house by the river is old. Houses and boats.", "house"),
        ("de", "Die Blumen blühen im Garten. Eine Blume ist rot. Viele Blumen im Garten.", "blume"),
        ("es", "Las flores del jardín son rojas. Una flor amarilla. Flores y árboles del jardín.", "flor"),
        ("fr", "Les fleurs du jardin sont rouges. Une fleur jaune. Des fleurs et des arbres.", "fleur"),
    ],
)
def test_keywords_count_a_word_once_across_its_inflections(language, text, one_of):
    texts = [k.text for k in keywords(text, language=language)]
    assert sum(1 for k in texts if k.split()[0].lower().startswith(one_of)) == 1, texts


def test_keywords_of_nothing_and_tags():
    assert keywords("") == [] and keywords("um uh yeah okay") == []
    ranked = keywords(TEXT)
    assert tags(ranked) == [k.text for k in ranked if len(k.text.split()) <= 2][:10]


# --- chapters ---------------------------------------------------------------------------------


def test_chapters_start_at_the_cuts_and_take_labels_from_their_speech():
    speech = [
        *words_at("we cook pasta with fresh tomato sauce", 1.0),
        *words_at("our football team won the championship game", 13.0),
        *words_at("the president spoke about the economy", 25.0),
    ]
    cuts = [SceneCut(time=12.0, score=30), SceneCut(time=24.0, score=31)]
    found = chapters(36.0, cuts, speech)
    assert [(c.start, c.end) for c in found] == [(0.0, 12.0), (12.0, 24.0), (24.0, 36.0)]
    assert [c.starts_at for c in found] == ["start", "scene_cut", "scene_cut"]
    assert "tomato" in found[0].label.lower() and "football" in found[1].label.lower()
    assert youtube_ready(found)
    assert youtube_list(found).splitlines()[1].startswith("0:12 ")


def test_a_cut_inside_a_word_moves_to_the_nearest_pause():
    speech = [*words_at("alpha beta gamma", 10.0, per_word=0.5, gap=0.0), *words_at("delta", 12.0)]
    # the cut at 10.7 falls inside "beta"; the nearest pause starts when "gamma" ends, 11.5
    found = chapters(30.0, [SceneCut(time=10.7, score=20)], speech, ChapterRules(min_seconds=5))
    assert found[1].start == pytest.approx(10.0)  # the pause before "alpha" is nearer (0.7 s) than 11.5 (0.8 s)


def test_short_chapters_merge_into_the_shorter_neighbour_and_silent_ones_are_scenes():
    cuts = [SceneCut(time=t, score=20) for t in (12.0, 15.0, 40.0)]
    found = chapters(60.0, cuts, [])
    assert [(c.start, c.end) for c in found] == [(0.0, 15.0), (15.0, 40.0), (40.0, 60.0)]
    assert [c.label for c in found] == ["Scene 1", "Scene 2", "Scene 3"]


def test_a_long_take_is_split_at_its_longest_pause():
    speech = [*words_at("first part talks about gardens", 5.0), *words_at("second part talks about boats", 400.0)]
    found = chapters(700.0, [], speech, ChapterRules(max_seconds=300))
    # pauses: 7.2-400 and 402.2-700; the longer one splits first, then the rest at the other
    assert [c.start for c in found] == pytest.approx([0.0, 203.6, 551.1])
    assert [c.starts_at for c in found] == ["start", "pause", "pause"]
    assert "gardens" in found[0].label.lower() and "boats" in found[1].label.lower()
    assert found[2].label == "Scene 3"


def test_youtube_rules():
    assert not youtube_ready(chapters(25.0, [SceneCut(time=12.0, score=20)], []))  # two chapters
    assert youtube_list(chapters(4000.0, [SceneCut(time=3700.0, score=20)], [])).splitlines()[-1].startswith("1:01:40")
    assert chapters(0.0, [], []) == []


# --- suggestions ------------------------------------------------------------------------------

FACTS = VideoFacts(
    file_name="my_trip-to.rome.mp4",
    duration_seconds=36,
    width=1280,
    height=720,
    scenes=3,
    utterances=[
        Utterance(start=1, end=6, text="welcome to the kitchen today we cook pasta"),
        Utterance(start=13, end=17, text="our football team won the championship game"),
        Utterance(start=25, end=28, text="thank you"),
    ],
    keywords=["cook pasta", "championship game", "kitchen", "football team"],
    chapters=["Cook pasta", "Championship game", "Scene 3"],
)


def test_extractive_title_and_description_from_keywords_and_sentences():
    s = extractive(FACTS)
    assert s.title == "Cook Pasta, Championship Game and Kitchen"
    assert s.description.startswith("Welcome to the kitchen today we cook pasta. Our football team won")
    assert "thank you" not in s.description.lower()
    assert "36-second video (1280x720) in 3 chapters: Cook pasta, Championship game, Scene 3." in s.description
    assert extractive(FACTS) == s  # deterministic


def test_the_description_quotes_whole_sentences_across_pauses():
    facts = VideoFacts(
        file_name="austen.mp4",
        duration_seconds=26,
        width=640,
        height=360,
        scenes=1,
        utterances=[
            Utterance(start=0, end=6, text="And Mr. John Dashwood had then leisure to consider it."),
            Utterance(start=7, end=9, text="He was not an ill-disposed young man,"),
            Utterance(start=10, end=14, text="unless to be rather cold-hearted is to be ill-disposed."),
        ],
        keywords=["John Dashwood", "ill-disposed young man", "leisure"],
    )
    s = extractive(facts)
    assert s.title == "John Dashwood, Ill-disposed Young Man and Leisure"
    assert s.description == (
        "And Mr. John Dashwood had then leisure to consider it. He was not an ill-disposed young man,"
        " unless to be rather cold-hearted is to be ill-disposed. A 26-second video (640x360)."
    )


def test_a_german_video_is_described_in_german():
    facts = VideoFacts(
        file_name="zug.mp4",
        duration_seconds=75,
        width=640,
        height=360,
        scenes=2,
        language="de",
        utterances=[
            Utterance(start=0, end=3, text="Der Zug nach Berlin fährt heute am Abend ab."),
            Utterance(start=4, end=7, text="Meine Schwester kocht gerne Suppe mit frischem Gemüse."),
        ],
        keywords=["Zug", "Schwester kocht gerne", "Abend"],
        chapters=["Zug, Abend", "Schwester kocht gerne"],
    )
    s = extractive(facts)
    assert s.title == "Zug, Schwester kocht gerne und Abend"
    assert s.description == (
        "Der Zug nach Berlin fährt heute am Abend ab. Meine Schwester kocht gerne Suppe mit frischem Gemüse."
        " Ein Video von 75 Sekunden (640x360) in 2 Kapiteln: Zug, Abend, Schwester kocht gerne."
    )


def test_keywords_keep_the_capitals_of_names_and_german_nouns():
    ranked = keywords("The river Thames flows past London. River boats carry Anna to London.")
    assert [k.text for k in ranked] == ["Thames flows past", "London", "boats carry Anna", "river"]
    assert tags(ranked) == ["london", "river"]
    after_a_title = keywords("And Mr. John Dashwood had then leisure to consider how much there might be.")
    assert "John Dashwood" in [k.text for k in after_a_title]  # "Mr." ends no sentence
    german = [k.text for k in keywords("Der Zug fährt am Abend. Meine Schwester kocht Suppe.", language="de")]
    assert any("Zug" in k for k in german) and any("Schwester" in k for k in german)


def test_without_speech_the_title_comes_from_the_file_name():
    quiet = VideoFacts(file_name="IMG_2041.MOV", duration_seconds=600, width=1920, height=1080, scenes=4)
    assert extractive(quiet) == Suggestion(
        title="IMG", description="A 10-minute video (1920x1080) and 4 scenes, without speech."
    )
    assert name_title("my_trip-to.rome.mp4") == "My Trip to Rome"
    assert name_title("12345.mp4") == "Untitled video"


def test_clean_strips_controls_and_cuts_at_a_word():
    assert clean("a\u202etitle\x00 with  spaces", 100) == "a title with spaces"
    assert clean("one two three four", 12) == "one two…"


class Failing:
    made_by = BY

    def suggest(self, facts: VideoFacts) -> Suggestion:
        raise TextGenerationError("HTTP 401: bad key sk-abc", "the API answered HTTP 401")


class Answering:
    made_by = MadeBy(tool="chat completions API", version="m")

    def suggest(self, facts: VideoFacts) -> Suggestion:
        return Suggestion(title="  A  model\ntitle ", description="x" * 2000)


def test_a_failing_generator_falls_back_to_the_default_and_says_why():
    got = suggest(FACTS, Failing())
    assert got.title == extractive(FACTS).title and got.provider_error == "the API answered HTTP 401"
    assert got.made_by.tool == "vidpipe extractive summary"


def test_a_generator_answer_is_cleaned_and_credited():
    got = suggest(FACTS, Answering())
    assert got.title == "A model title" and len(got.description) == 1000 and got.provider_error is None
    assert got.made_by.version == "m"


# --- transcript -------------------------------------------------------------------------------


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(samples * 32767, -32768, 32767).astype("<i2").tobytes())
    return path


def syllables(seconds: float) -> np.ndarray:
    """A 4 Hz on/off tone: the energy rhythm of speech."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.3 * np.sin(2 * math.pi * 300 * t) * (np.sin(2 * math.pi * 4 * t) > 0)


def test_low_energy_ratio_tells_syllables_from_a_steady_tone():
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * math.pi * 440 * t)
    as_pcm = lambda x: (x * 32767).astype("<i2").tobytes()  # noqa: E731
    assert low_energy_ratio(frame_energies(as_pcm(tone))) < 0.05
    assert low_energy_ratio(frame_energies(as_pcm(syllables(3)))) > 0.4


def test_sounding_spans_are_what_the_silences_leave():
    silences = [Segment(start=0, end=1), Segment(start=5, end=7.1), Segment(start=9.9, end=10)]
    assert [(s.start, s.end) for s in sounding_spans(silences, 10)] == [(1, 5), (7.1, 9.9)]
    assert sounding_spans([Segment(start=0, end=10)], 10) == []
    assert [(s.start, s.end) for s in sounding_spans([], 3)] == [(0, 3)]


def test_long_sound_is_read_in_bounded_chunks_cut_at_quiet_points(tmp_path):
    wav = write_wav(tmp_path / "a.wav", syllables(65))
    chunks = list(audio_chunks(wav, [Segment(start=0, end=65)], max_seconds=20))
    assert all(c.seconds <= 20 for c in chunks) and len(chunks) >= 4
    for c in chunks:  # each chunk's own part of the span
        assert [(s.start, s.end) for s in c.spans] == [(c.start, pytest.approx(c.start + c.seconds))]
    assert sum(len(c.pcm) for c in chunks) == 65 * SAMPLE_RATE * 2  # every sample once
    for a, b in itertools.pairwise(chunks):
        assert b.start == pytest.approx(a.start + a.seconds)


def test_audio_that_is_not_16k_mono_is_refused(tmp_path):
    wav = write_wav(tmp_path / "a.wav", syllables(1), rate=44100)
    with pytest.raises(AudioFormatError, match="44100 Hz"):
        list(audio_chunks(wav, [Segment(start=0, end=1)]))


class ScriptedEngine:
    """The Transcriber port answering from a script: confidence per chunk, in order, in the
    language it detects (or is asked for)."""

    made_by = BY

    def __init__(self, confidences: list[float], detects: str = "en") -> None:
        self.confidences = confidences
        self.detects = detects
        self.heard: list[AudioChunk] = []
        self.asked: list[str | None] = []

    def hear(self, chunk: AudioChunk, language: str | None) -> Heard:
        self.heard.append(chunk)
        self.asked.append(language)
        c = self.confidences[len(self.heard) - 1]
        words = [
            Word(text="Read", start=0.1, end=0.5, confidence=c),
            Word(text="on.", start=0.6, end=0.8, confidence=c),
        ]
        return Heard(words=words, language=language or self.detects, probability=1.0 if language else 0.8)


def two_stretches_apart(tmp_path: Path, gap: float) -> Path:
    quiet = np.zeros(int(gap * SAMPLE_RATE))
    return write_wav(tmp_path / "a.wav", np.concatenate([syllables(3), quiet, syllables(3)]))


def test_transcribe_offsets_words_and_drops_unsure_chunks(tmp_path):
    wav = two_stretches_apart(tmp_path, 30)  # too far apart for one window: two calls
    engine = ScriptedEngine([0.9, 0.1])
    progress: list[float] = []
    got = transcribe(engine, wav, [Segment(start=3, end=33)], 36.0, on_chunk=progress.append)
    assert isinstance(got, Transcript) and got.speech and (got.language, got.language_probability) == ("en", 0.8)
    assert [w.text for w in got.words] == ["Read", "on."]  # the unsure second chunk is music
    assert got.words[0].start == pytest.approx(0.1, abs=0.05) and len(engine.heard) == 2
    assert engine.heard[1].start == pytest.approx(32.75) and progress and progress[-1] == pytest.approx(36.0)


def test_the_language_is_detected_once_and_kept(tmp_path):
    wav = two_stretches_apart(tmp_path, 30)
    engine = ScriptedEngine([0.9, 0.9], detects="de")
    got = transcribe(engine, wav, [Segment(start=3, end=33)], 36.0)
    assert engine.asked == [None, "de"] and got.language == "de" and len(got.words) == 4


class FixedEngine:
    """The Transcriber port hearing the same words (times from the chunk's start) in every chunk."""

    made_by = BY

    def __init__(self, words: list[tuple[str, float, float]]) -> None:
        self.words = [
            Word(text=t, start=a, end=b, confidence=c) for t, a, c, b in ((t, a, c, a + 0.3) for t, a, c in words)
        ]
        self.heard: list[AudioChunk] = []

    def hear(self, chunk: AudioChunk, language: str | None) -> Heard:
        self.heard.append(chunk)
        return Heard(words=self.words, language=language or "en", probability=0.9)


def test_stretches_near_each_other_are_one_call_and_each_is_judged_alone(tmp_path):
    """Three stretches of sound within 28 s go to the engine at once (Whisper encodes 30 s per
    call whatever it gets), and each keeps its words only if it would have alone: the steady
    tone's confident words and the mumbled stretch's unsure ones are dropped."""
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE)
    quiet = np.zeros(2 * SAMPLE_RATE)
    wav = write_wav(tmp_path / "a.wav", np.concatenate([syllables(3), quiet, tone, quiet, syllables(3)]))
    engine = FixedEngine(
        [
            *((w, 0.5 + 0.4 * i, 0.9) for i, w in enumerate(["We", "cook", "pasta", "today."])),
            *((w, 5.5 + 0.4 * i, 0.9) for i, w in enumerate(["Thank", "you", "for", "watching."])),
            *((w, 10.5 + 0.4 * i, 0.1) for i, w in enumerate(["la", "la", "la", "la."])),
        ]
    )
    silences = [Segment(start=3, end=5), Segment(start=8, end=10)]
    got = transcribe(engine, wav, silences, 13.0)
    assert len(engine.heard) == 1 and [(s.start, s.end) for s in engine.heard[0].spans] == [(0, 3), (5, 8), (10, 13)]
    assert [w.text for w in got.words] == ["We", "cook", "pasta", "today."]


def test_speech_in_a_language_not_transcribed_says_so(tmp_path):
    wav = write_wav(tmp_path / "a.wav", syllables(3))
    got = transcribe(ScriptedEngine([0.9], detects="ja"), wav, [], 3.0)
    assert not got.speech and got.words == [] and got.language == "ja"
    assert got.no_speech_reason == (
        "the speech is in a language not transcribed (ja; supported: English, German, Spanish, French)"
    )


def test_a_word_after_a_pause_starts_where_its_sound_does():
    """Engines put a word's start up to 0.4 s early after a pause; the audio says when."""
    pcm = np.concatenate([np.zeros(SAMPLE_RATE), 0.3 * np.ones(SAMPLE_RATE // 2), np.zeros(SAMPLE_RATE // 2)])
    energies = decibels(frame_energies((pcm * 32767).astype("<i2").tobytes()))
    early = [Word(text="Hello", start=0.6, end=1.3, confidence=0.9), Word(text="you", start=1.3, end=1.5, confidence=1)]
    snapped = snap_onsets(early, energies)
    assert snapped[0].start == pytest.approx(1.0) and snapped[1].start == 1.3  # no pause before "you"
    late = [Word(text="Hi", start=1.1, end=1.3, confidence=0.9)]
    assert snap_onsets(late, energies)[0].start == 1.1  # never moved earlier


def test_the_pace_of_speech_leaves_out_quiet_pauses_but_not_loud_gaps():
    """Two sentences 12 s apart under room noise the silence detector cannot hear as silence are
    speech; the same few words with a tune playing between them are babble."""

    def heard_at(starts: list[float]) -> list[Word]:
        return [Word(text="w", start=t, end=t + 0.3, confidence=0.9) for t in starts]

    spoken = [0.5, 0.9, 1.3, 1.7, 14.0, 14.4, 14.8, 15.2]
    room = np.full(1600, -40.0)  # 16 s of 10 ms frames at -40 dB
    for t in spoken:
        room[int(t * 100) : int(t * 100) + 30] = -15.0
    assert sounds_like_speech(heard_at(spoken), 0.35, 1.3, room)
    tune = np.where(room < -20, -18.0, -15.0)  # the gap as loud as the words
    assert not sounds_like_speech(heard_at(spoken), 0.35, 1.3, tune)


def test_silence_and_steady_tones_are_no_speech(tmp_path):
    wav = write_wav(tmp_path / "a.wav", np.zeros(SAMPLE_RATE * 4))
    silent = transcribe(ScriptedEngine([]), wav, [Segment(start=0, end=4)], 4.0)
    assert not silent.speech and silent.no_speech_reason == "the audio is silent" and silent.words == []
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    wav = write_wav(tmp_path / "b.wav", 0.3 * np.sin(2 * math.pi * 440 * t))
    engine = ScriptedEngine([0.9])
    tone = transcribe(engine, wav, [], 4.0)
    assert not tone.speech and "music, tones or noise" in (tone.no_speech_reason or "")
    assert engine.heard == []  # never decoded


def test_utterances_split_at_pauses():
    t = Transcript(language="en", speech=True, made_by=BY, words=[*words_at("one two", 0.0), *words_at("three", 3.0)])
    assert [(u.text, u.start) for u in t.utterances()] == [("one two", 0.0), ("three", 3.0)]
    assert t.text == "one two three"


def _merge_short_reference(starts, duration, min_seconds):
    """The rule as first written, quadratic: the oracle for the heap version."""
    starts = list(starts)
    while len(starts) > 1:
        lengths = [e - s for s, e in zip(starts, [*starts[1:], duration], strict=True)]
        i = min(range(len(starts)), key=lengths.__getitem__)
        if lengths[i] >= min_seconds:
            break
        if i == 0:
            del starts[1]
        elif i == len(starts) - 1 or lengths[i - 1] <= lengths[i + 1]:
            del starts[i]
        else:
            del starts[i + 1]
    return starts


def test_merging_short_chapters_keeps_the_rule_on_random_cuts():
    import random

    from shared.content.chapters import _merge_short

    rng = random.Random(20261126)  # noqa: S311  # reproducible cuts, not a secret
    for _ in range(2000):
        duration = rng.choice([30, 100, 600])
        cuts = sorted(
            {0.0, *(round(rng.uniform(0, duration), rng.choice([0, 1, 3])) for _ in range(rng.randint(0, 40)))}
        )
        cuts = [c for c in cuts if c < duration]
        min_seconds = rng.choice([5, 10, 30])
        assert _merge_short(cuts, duration, min_seconds) == _merge_short_reference(cuts, duration, min_seconds)


def test_a_cut_at_every_frame_still_makes_chapters_of_the_minimum_length():
    from shared.content.chapters import chapters
    from shared.media.models import SceneCut

    cuts = [SceneCut(time=i / 500, score=100.0) for i in range(1, 60_000)]  # two minutes of flicker
    made = chapters(120.0, cuts, [])
    assert made[0].start == 0 and made[-1].end == 120.0
    assert all(c.end - c.start >= 10 for c in made) and 6 <= len(made) <= 12


def test_the_language_chosen_from_an_engines_probabilities():
    from shared.content.transcript import language_contenders

    def choose_language(ranked):  # the likeliest contender
        return language_contenders(ranked)[0]

    assert choose_language([("de", 0.43), ("en", 0.41)]) == ("de", 0.43)
    assert choose_language([("la", 0.19), ("de", 0.15), ("en", 0.1)]) == ("de", 0.15)  # unsure: supported wins
    assert choose_language([("ja", 0.93), ("en", 0.02)]) == ("ja", 0.93)  # sure: said so, not transcribed
    assert choose_language([("th", 0.44), ("ms", 0.07), ("en", 0.01)]) == ("th", 0.44)  # no real contender


def test_an_unsure_engine_listens_again_in_each_supported_contender():
    from shared.content.transcript import language_contenders

    unsure = [("en", 0.2), ("es", 0.18), ("pt", 0.12), ("fr", 0.06), ("de", 0.05), ("it", 0.04)]
    assert language_contenders(unsure) == [("en", 0.2), ("es", 0.18), ("fr", 0.06)]
    assert language_contenders([("es", 0.84), ("en", 0.1)]) == [("es", 0.84)]  # sure: one reading
