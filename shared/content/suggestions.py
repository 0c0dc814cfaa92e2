"""Title and description suggestions. The default is extractive and deterministic: the best
keywords make the title, the sentences richest in keywords the description. A TextGenerator (an
LLM behind an API) may do better; when it fails, the default stands and the failure is recorded."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from pydantic import BaseModel

from shared import __version__
from shared.content.keywords import PUNCTUATION, ends_sentence
from shared.content.transcript import Utterance
from shared.domain import ProviderError
from shared.logs import get_logger
from shared.media.models import MadeBy

log = get_logger("describe")

MAX_TITLE = 100
MAX_DESCRIPTION = 1000
SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to"})
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")


@dataclass(frozen=True)
class VideoFacts:
    """What a title and description may be drawn from."""

    file_name: str
    duration_seconds: float
    width: int | None
    height: int | None
    scenes: int
    language: str = "en"  # ISO 639-1, of the speech (a silent video's text is English)
    utterances: list[Utterance] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)  # best first
    chapters: list[str] = field(default_factory=list)  # labels, in order

    @property
    def transcript(self) -> str:
        return " ".join(u.text for u in self.utterances)


class Suggestion(BaseModel):
    title: str
    description: str


class TextGenerationError(ProviderError):
    """The text generator gave no usable title and description."""


class TextGenerator(Protocol):
    made_by: MadeBy

    def suggest(self, facts: VideoFacts) -> Suggestion: ...


def clean(text: str, limit: int) -> str:
    """One line of printable text, at most limit characters, cut at a word."""
    text = " ".join(CONTROL.sub(" ", text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def title_case(text: str) -> str:
    words = text.split()
    return " ".join(w if i and w in SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words))


def first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentence(text: str) -> str:
    text = text.strip().rstrip(",;:")
    return first_upper(text) + ("" if text.endswith((".", "!", "?", "…")) else ".")


def sentences(utterances: list[Utterance]) -> list[str]:
    """The speech as sentences. Where the engine punctuates, its sentences, across pauses ("He
    was not an ill-disposed young man," / "unless…"); a run of speech without any punctuation is
    a sentence of its own. A title ("Mr.", "Dr.", "Fr.") ends none."""
    found: list[str] = []
    current = ""
    for u in utterances:
        current = f"{current} {u.text.strip()}".strip()
        if not current.endswith((",", ";", ":")):
            found.append(current)
            current = ""
    if current:
        found.append(current)
    sentences: list[str] = []
    for text in found:
        words: list[str] = []
        for word in text.split():
            words.append(word)
            if ends_sentence(word):
                sentences.append(" ".join(words))
                words = []
        if words:
            sentences.append(" ".join(words))
    return sentences


def folded(text: str) -> str:
    """Lower case, punctuation as spaces: for finding a keyword in a sentence."""
    return " " + " ".join(text.lower().translate(str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))).split()) + " "


@dataclass(frozen=True)
class Wording:
    """The few words the extractive summary writes itself, in the language of the speech."""

    and_: str
    summary: Callable[[float, str, int], str]  # duration, " (WxH)" or "", chapters


def _seconds_in(units: tuple[str, str, str], seconds: float, joiner: str = " ") -> str:
    """A length in seconds, minutes or hours: "36 Sekunden", or with joiner "-" "36-second"."""
    if seconds < 90:
        return f"{round(seconds)}{joiner}{units[0]}"
    if seconds < 5400:
        return f"{round(seconds / 60)}{joiner}{units[1]}"
    return f"{seconds / 3600:.1f}{joiner}{units[2]}"


WORDING = {
    "en": Wording(
        "and",
        lambda d, size, n: (
            f"A {_seconds_in(('second', 'minute', 'hour'), d, '-')} video{size}" + (f" in {n} chapters" if n else "")
        ),
    ),
    "de": Wording(
        "und",
        lambda d, size, n: (
            f"Ein Video von {_seconds_in(('Sekunden', 'Minuten', 'Stunden'), d)}{size}"
            + (f" in {n} Kapiteln" if n else "")
        ),
    ),
    "es": Wording(
        "y",
        lambda d, size, n: (
            f"Un vídeo de {_seconds_in(('segundos', 'minutos', 'horas'), d)}{size}"
            + (f" en {n} capítulos" if n else "")
        ),
    ),
    "fr": Wording(
        "et",
        lambda d, size, n: (
            f"Une vidéo de {_seconds_in(('secondes', 'minutes', 'heures'), d)}{size}"
            + (f" en {n} chapitres" if n else "")
        ),
    ),
}


def name_title(file_name: str) -> str:
    """A title from the file's name when that name has words: `my_trip-to.rome.mp4` → "My Trip to Rome"."""
    stem = PurePosixPath(file_name).stem
    words = [w for w in re.split(r"[\s_.\-]+", stem) if w and not w.isdigit()]
    if not any(re.search(r"[^\W\d]", w) for w in words):
        return "Untitled video"
    return title_case(" ".join(w.lower() if w.isupper() and len(w) > 3 else w for w in words))


def extractive(facts: VideoFacts, title_phrases: int = 3, description_sentences: int = 2) -> Suggestion:
    """The best keywords as the title; the sentences that hold the most (and best) keywords,
    then a line of facts, as the description. In the speech's language: English titles in
    title case, the others as a sentence (German nouns keep their capitals)."""
    size = f" ({facts.width}x{facts.height})" if facts.width and facts.height else ""
    wording = WORDING.get(facts.language, WORDING["en"]) if facts.keywords else WORDING["en"]
    summary = wording.summary(facts.duration_seconds, size, len(facts.chapters))
    if not facts.keywords:
        scenes = f" and {facts.scenes} scenes" if facts.scenes > 1 and not facts.chapters else ""
        return Suggestion(
            title=clean(name_title(facts.file_name), MAX_TITLE),
            description=clean(f"{summary}{scenes}, without speech.", MAX_DESCRIPTION),
        )
    phrases = facts.keywords[:title_phrases]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + f" {wording.and_} " + phrases[-1]
    title = title_case(joined) if facts.language == "en" else first_upper(joined)
    rank = {folded(k): 1.0 / (i + 1) for i, k in enumerate(facts.keywords)}
    spoken = sentences(facts.utterances)
    weight = [sum(v for k, v in rank.items() if k in text) for text in map(folded, spoken)]
    best = sorted(sorted(range(len(spoken)), key=lambda i: -weight[i])[:description_sentences])
    said = " ".join(sentence(spoken[i]) for i in best if weight[i] > 0)
    topics = f": {', '.join(facts.chapters)}" if facts.chapters else ""
    return Suggestion(
        title=clean(title, MAX_TITLE),
        description=clean(f"{said} {summary}{topics}.".strip(), MAX_DESCRIPTION),
    )


def made_by() -> MadeBy:
    return MadeBy(tool="vidpipe extractive summary", version=__version__)


class Suggestions(Suggestion):
    made_by: MadeBy
    # Why the configured TextGenerator's answer was not used: a fixed sentence, never the
    # provider's own words (they can quote a key back); the function's log has those.
    provider_error: str | None = None


def suggest(facts: VideoFacts, generator: TextGenerator | None) -> Suggestions:
    default = extractive(facts)
    if generator is None:
        return Suggestions(**default.model_dump(), made_by=made_by())
    try:
        answer = generator.suggest(facts)
    except TextGenerationError as exc:
        log.warning("text generator failed, extractive suggestions kept: %s", exc)
        return Suggestions(**default.model_dump(), made_by=made_by(), provider_error=exc.public)
    return Suggestions(
        title=clean(answer.title, MAX_TITLE),
        description=clean(answer.description, MAX_DESCRIPTION),
        made_by=generator.made_by,
    )
