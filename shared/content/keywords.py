"""Keywords and tags from a transcript, offline: YAKE ranks candidate phrases by statistical
features of the text alone (no corpus, no model); we then drop filler and near-duplicates."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import version

from pydantic import BaseModel

from shared.media.models import MadeBy

# Spoken filler that YAKE's stop-word list lets through; none of these describe a video.
FILLER = frozenset(
    {
        "um",
        "umm",
        "uh",
        "uhh",
        "er",
        "erm",
        "ah",
        "ahh",
        "oh",
        "hmm",
        "mm",
        "mhm",
        "huh",
        "yeah",
        "yep",
        "yup",
        "nope",
        "okay",
        "ok",
        "alright",
        "right",
        "like",
        "really",
        "actually",
        "basically",
        "literally",
        "gonna",
        "wanna",
        "gotta",
        "kinda",
        "sorta",
        "stuff",
        "thing",
        "things",
        "guys",
        "know",
        "mean",
        "said",
        "say",
        "says",
        "going",
        "get",
        "got",
        "just",
        "well",
        "lot",
        "lots",
        "way",
        "something",
        "anything",
        "everything",
    }
)


PUNCTUATION = ".,;:!?¿¡…\"'«»“”„()[]"
# A word that ends with a full stop yet ends no sentence: a title or an initial ("Mr.", "Dr.", "J.").
TITLE = re.compile(r"[A-Z][a-z]{0,2}\.")


def ends_sentence(word: str) -> bool:
    return word.endswith((".", "!", "?", "…")) and not TITLE.fullmatch(word)


class Keyword(BaseModel):
    text: str
    score: float  # YAKE's score: lower is more relevant


# Snowball's stemmer for each language the transcriber supports: "valleys" and "valley",
# "Blumen" and "Blume", "fleurs" and "fleur" fold to one stem, so they make one keyword.
STEMMERS = {"en": "english", "de": "german", "es": "spanish", "fr": "french"}


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Callable[[str], str]:
    import snowballstemmer  # type: ignore[import-untyped,unused-ignore]

    if language not in STEMMERS:
        return lambda token: token
    return snowballstemmer.stemmer(STEMMERS[language]).stemWord  # type: ignore[no-any-return]


@lru_cache(maxsize=8)
def stop_words(language: str) -> frozenset[str]:
    """YAKE's list for the language (it has one for each the transcriber supports), plus English
    filler for English."""
    import yake  # type: ignore[import-untyped,unused-ignore]

    return frozenset(yake.KeywordExtractor(lan=language).stopword_set) | (FILLER if language == "en" else frozenset())


def made_by() -> MadeBy:
    return MadeBy(tool="yake", version=version("yake"))


def keywords(text: str, limit: int = 15, max_words: int = 3, language: str = "en") -> list[Keyword]:
    """Ranked, best first: phrases of content words only (no stop word of the language, filler
    or number), none sharing half its words' stems with a better-ranked one: "tomato sauce"
    keeps out "fresh tomato sauce", "tomatoes" and "sauce"."""
    if not text.strip():
        return []
    import yake  # type: ignore[import-untyped,unused-ignore]

    stop, stem = stop_words(language), _stemmer(language)
    extractor = yake.KeywordExtractor(lan=language, n=max_words, dedup_lim=0.9, top=limit * 4, stopwords=stop)
    kept: list[Keyword] = []
    seen: list[set[str]] = []
    written = capitalised_words(text)
    for phrase, score in extractor.extract_keywords(text):
        tokens = [t for t in (w.strip(PUNCTUATION) for w in phrase.lower().split()) if t]
        # Whisper writes numbers as digits ("2024", "3.5", "10%"): none of them is a keyword.
        if not tokens or any(t in stop or len(t) < 3 or any(c.isdigit() for c in t) for t in tokens):
            continue
        stems = {stem(t) for t in tokens}
        if any(2 * len(stems & other) >= len(stems) for other in seen):
            continue
        seen.append(stems)
        kept.append(Keyword(text=" ".join(written.get(t, t) for t in tokens), score=round(float(score), 6)))
        if len(kept) == limit:
            break
    return kept


def capitalised_words(text: str) -> dict[str, str]:
    """Words the text capitalises where no sentence starts (names; German nouns), by their lower
    case: a keyword keeps "John Dashwood" and "Zug" as written and "river" in lower case."""
    written: dict[str, str] = {}
    starts = True
    for raw in text.split():
        word = raw.strip(PUNCTUATION)
        if word[:1].isupper() and not starts:
            written.setdefault(word.lower(), word)
        starts = ends_sentence(raw) or (starts and not word)
    return written


def tags(ranked: list[Keyword], limit: int = 10) -> list[str]:
    """Short labels for tagging UIs: the best keywords of one or two words, lower case."""
    return [k.text.lower() for k in ranked if len(k.text.split()) <= 2][:limit]
