"""Speech to text over the process step's 16 kHz mono WAV, whatever engine the Transcriber is.

The audio is cut into chunks at the silences the process step measured, and long stretches of
sound at their quietest point, so memory stays bounded by one chunk however long the video is.
A chunk is decoded only when its loudness has the rhythm of syllables (a steady tone or drone has
no quiet frames), and its words are kept only when they come at the pace of speech and the engine
is confident of them: over music, engines babble a few unsure words.
"""

from __future__ import annotations

import itertools
import math
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from shared.domain import ProviderError
from shared.media.models import MadeBy, Segment

SAMPLE_RATE = 16_000
FRAME = SAMPLE_RATE // 100  # 10 ms of 16-bit samples, the unit of energy measures


class Word(BaseModel):
    text: str
    start: float
    end: float
    confidence: float  # the engine's posterior probability, 0-1


class Utterance(BaseModel):
    """A run of words without a pause of PAUSE_SECONDS or more."""

    start: float
    end: float
    text: str


# The languages whose transcripts, captions and keywords are made (Whisper hears many more; its
# base model is unreliable beyond these, and keywords need each language's stop words).
SUPPORTED_LANGUAGES = {"en": "English", "de": "German", "es": "Spanish", "fr": "French"}


SURE_OF_LANGUAGE = 0.5  # a language this likely is taken at its word
FALLBACK_LANGUAGE_MIN = 0.05  # else each supported one at least this likely is a contender
MAX_CONTENDERS = 3


def language_contenders(probabilities: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The languages worth listening in, from an engine's probabilities (most likely first).
    Whisper base is unsure of short or synthetic speech: German it may call Latin at 0.19, a
    three-second Spanish prompt English at 0.2. A language it is sure of is the only one; when
    it is unsure, each supported language that is a real contender is, the likeliest first
    (the engine decodes in each and keeps the reading it finds most probable); with none, the
    likeliest is."""
    top = probabilities[0]
    if top[1] >= SURE_OF_LANGUAGE:
        return [top]
    supported = [p for p in probabilities if p[0] in SUPPORTED_LANGUAGES and p[1] >= FALLBACK_LANGUAGE_MIN]
    return supported[:MAX_CONTENDERS] or [top]


class Transcript(BaseModel):
    language: str | None  # ISO 639-1, as detected; None when nothing was heard
    language_probability: float | None = None  # the engine's confidence in it, 0-1
    speech: bool
    no_speech_reason: str | None = None
    words: list[Word]
    made_by: MadeBy

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    def utterances(self, pause: float = 0.6) -> list[Utterance]:
        runs: list[list[Word]] = []
        for word in self.words:
            if runs and word.start - runs[-1][-1].end < pause:
                runs[-1].append(word)
            else:
                runs.append([word])
        return [Utterance(start=r[0].start, end=r[-1].end, text=" ".join(w.text for w in r)) for r in runs]


def running_text(utterances: list[Utterance]) -> str:
    """The utterances as sentences: a full stop where a run of speech ends without one (an engine
    that writes no punctuation), so no keyword phrase spans two of them."""
    return " ".join(u.text if u.text.endswith((".", "!", "?", "…")) else f"{u.text.rstrip(',;:')}." for u in utterances)


@dataclass(frozen=True)
class AudioChunk:
    start: float  # seconds from the start of the audio
    pcm: bytes  # 16-bit little-endian mono samples at SAMPLE_RATE
    spans: tuple[Segment, ...] = ()  # the stretches of sound in it (from the start of the audio)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE


@dataclass(frozen=True)
class Heard:
    words: list[Word]  # times relative to the chunk's start
    language: str  # ISO 639-1: the one asked for, or the one detected
    probability: float | None  # the engine's confidence in the language (None: it does not say)


class TranscriptionError(ProviderError):
    """A hosted engine gave no usable transcript."""


class Transcriber(Protocol):
    """A speech-to-text engine. `language` None: detect it."""

    made_by: MadeBy

    def hear(self, chunk: AudioChunk, language: str | None) -> Heard: ...


class AudioFormatError(ValueError):
    pass


def frame_energies(pcm: bytes) -> NDArray[np.float64]:
    """Mean square amplitude of each 10 ms frame, full scale = 1."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    frames = len(samples) // FRAME
    return np.asarray((samples[: frames * FRAME].reshape(frames, FRAME) ** 2).mean(axis=1), dtype=np.float64)


def low_energy_ratio(energies: NDArray[np.float64], window: int = 100) -> float:
    """Share of frames quieter than half their second's mean. Speech, made of syllables and gaps,
    scores 0.4-0.7; a tone, a drone or steady noise scores near 0 (Scheirer and Slaney's feature)."""
    ratios = [
        float((part < 0.5 * part.mean()).mean())
        for i in range(0, max(1, len(energies) - window + 1), window)
        if len(part := energies[i : i + window])
    ]
    return sum(ratios) / len(ratios) if ratios else 0.0


def sounding_spans(silences: list[Segment], duration: float, min_seconds: float = 0.3) -> list[Segment]:
    """The complement of the measured silences within [0, duration]."""
    spans, at = [], 0.0
    for s in sorted(silences, key=lambda s: s.start):
        if s.start - at >= min_seconds:
            spans.append(Segment(start=at, end=s.start))
        at = max(at, s.end)
    if duration - at >= min_seconds:
        spans.append(Segment(start=at, end=duration))
    return spans


def windows(spans: list[Segment], max_seconds: float) -> list[list[Segment]]:
    """Spans packed into windows of at most max_seconds, pauses included: an engine pays for each
    call (Whisper encodes 30 s whatever it is given), so three sentences of a 30 s clip are one
    call, not three. A span longer than the window stays on its own, to be cut."""
    packed: list[list[Segment]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if packed and span.end - packed[-1][0].start <= max_seconds:
            packed[-1].append(span)
        else:
            packed.append([span])
    return packed


def audio_chunks(
    wav: Path | BinaryIO, spans: list[Segment], max_seconds: float = 28.0, pad: float = 0.25
) -> Iterator[AudioChunk]:
    """The spans packed into windows (padded a little, for the engine's onset), each cut at most
    max_seconds long (under Whisper's 30 s) at the quietest 10 ms in the last quarter of the
    window. Reads one window at a time, from a path or a seekable file (a stored track read by
    ranges: shared/media/source_file.py)."""
    with wave.open(str(wav) if isinstance(wav, Path) else wav, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise AudioFormatError(
                f"expected 16 kHz mono 16-bit audio, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} channels, {8 * w.getsampwidth()}-bit"
            )
        total = w.getnframes()
        for window in windows(spans, max_seconds - 2 * pad):
            at = max(0, int((window[0].start - pad) * SAMPLE_RATE))
            stop = min(total, math.ceil((window[-1].end + pad) * SAMPLE_RATE))
            while stop - at > FRAME:
                w.setpos(at)
                want = min(stop - at, int(max_seconds * SAMPLE_RATE))
                pcm = w.readframes(want)
                if at + want < stop:
                    pcm = pcm[: 2 * _quietest_cut(pcm)]
                start, end = at / SAMPLE_RATE, (at + len(pcm) // 2) / SAMPLE_RATE
                inside = tuple(
                    Segment(start=max(s.start, start), end=min(s.end, end))
                    for s in window
                    if s.end > start and s.start < end
                )
                yield AudioChunk(start=start, pcm=pcm, spans=inside)
                at += len(pcm) // 2


def _quietest_cut(pcm: bytes) -> int:
    """The sample index of the quietest frame in the last quarter of pcm."""
    energies = frame_energies(pcm)
    first = len(energies) * 3 // 4
    return (first + int(np.argmin(energies[first:]))) * FRAME


PAUSE_DB = 15.0


def sounds_like_speech(
    words: list[Word], min_confidence: float, min_words_per_second: float, db: NDArray[np.float64]
) -> bool:
    """Engines babble over music: a few words, far apart, that they are unsure of. People speak
    two or three words a second (slow speakers above 1.5), and engines are sure of most. The pace
    is over the time spoken: a quiet pause between sentences (under room noise too loud for the
    silence detector: PAUSE_DB under the words) is not time spoken; the gap between babbled
    words over a tune, as loud as they are, is.
    `db`: the chunk's 10 ms frame levels, words' times relative to its start."""
    if not words:
        return False
    spoken = [db[int(w.start * 100) : int(w.end * 100)] for w in words]
    level = float(np.median(np.concatenate(spoken))) if any(len(f) for f in spoken) else 0.0
    span = words[-1].end - words[0].start
    for before, after in itertools.pairwise(words):
        gap = db[int(before.end * 100) : int(after.start * 100)]
        if len(gap) >= 30 and float(np.median(gap)) < level - PAUSE_DB:
            span -= after.start - before.end
    confidence = sum(w.confidence for w in words) / len(words)
    return confidence >= min_confidence and len(words) / max(span, 0.5) >= min_words_per_second


def decibels(energies: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(10 * np.log10(energies + 1e-12), dtype=np.float64)


def speech_level(db: NDArray[np.float64]) -> float:
    """The level over which a 10 ms frame is loud enough to be speech: 30 dB under the chunk's
    loud frames and 10 dB over its quiet ones."""
    if not len(db):
        return 0.0
    quiet, loud = float(np.percentile(db, 10)), float(np.percentile(db, 95))
    return max(quiet + 10, loud - 30)


def by_span(words: list[Word], spans: list[Segment]) -> list[list[Word]]:
    """The words grouped by the span each falls in (or is nearest to, by its middle)."""
    groups: list[list[Word]] = [[] for _ in spans]
    for w in words:
        middle = (w.start + w.end) / 2
        nearest = min(range(len(spans)), key=lambda i: max(spans[i].start - middle, middle - spans[i].end, 0.0))
        groups[nearest].append(w)
    return groups


def snap_onsets(words: list[Word], db: NDArray[np.float64], pause: float = 0.2) -> list[Word]:
    """Word times from an engine start early after a pause (Whisper base: up to 0.4 s), and a
    caption shown before anyone speaks reads wrong. A word after a pause (or the first) starts
    where the sound does: the first 10 ms frame within it loud enough to be speech (`db`: the
    chunk's frame levels)."""
    if not words or not len(db):
        return words
    threshold = speech_level(db)
    snapped, previous_end = [], None
    for w in words:
        if previous_end is None or w.start - previous_end >= pause:
            first, last = int(w.start * 100), min(len(db), int(w.end * 100))
            loud_frames = np.nonzero(db[first:last] >= threshold)[0]
            if len(loud_frames):
                onset = (first + int(loud_frames[0])) / 100
                w = w.model_copy(update={"start": round(max(w.start, onset), 3)})
        snapped.append(w)
        previous_end = w.end
    return snapped


def transcribe(
    transcriber: Transcriber,
    wav: Path | BinaryIO,
    silences: list[Segment],
    duration: float,
    *,
    min_confidence: float = 0.35,
    min_low_energy_ratio: float = 0.2,
    min_words_per_second: float = 1.3,
    on_chunk: Callable[[float], None] = lambda _: None,
) -> Transcript:
    """The whole audio's transcript, or a no-speech result that says why. The language is
    detected on the first chunk that sounds like speech and kept for the rest."""
    language: str | None = None
    probability: float | None = None

    def result(words: list[Word], reason: str | None) -> Transcript:
        return Transcript(
            language=language,
            language_probability=probability,
            speech=bool(words),
            no_speech_reason=reason,
            words=words,
            made_by=transcriber.made_by,
        )

    spans = sounding_spans(silences, duration)
    if not spans:
        return result([], "the audio is silent")
    words: list[Word] = []
    for chunk in audio_chunks(wav, spans):
        on_chunk(chunk.start + chunk.seconds)
        energies = frame_energies(chunk.pcm)  # for the rhythm check, the pace and the word onsets
        db = decibels(energies)
        # Each stretch of sound is judged on its own, as if it had been heard alone: its rhythm
        # before the engine runs, then the pace and confidence of the words heard in it.
        local = [Segment(start=s.start - chunk.start, end=s.end - chunk.start) for s in chunk.spans]
        rhythmic = [
            low_energy_ratio(energies[int(s.start * 100) : int(s.end * 100)]) >= min_low_energy_ratio for s in local
        ]
        if not any(rhythmic):
            continue
        heard = transcriber.hear(chunk, language)
        kept = [
            w
            for group, keep in zip(by_span(heard.words, local), rhythmic, strict=True)
            if keep and sounds_like_speech(group, min_confidence, min_words_per_second, db)
            for w in group
        ]
        if not kept:
            continue
        if language is None:
            language, probability = heard.language, heard.probability
            if language not in SUPPORTED_LANGUAGES:
                names = ", ".join(SUPPORTED_LANGUAGES.values())
                return result([], f"the speech is in a language not transcribed ({language}; supported: {names})")
        words += [
            w.model_copy(update={"start": round(chunk.start + w.start, 2), "end": round(chunk.start + w.end, 2)})
            for w in snap_onsets(kept, db)
        ]
    return result(words, None if words else "no speech was recognised: the sound is music, tones or noise")
