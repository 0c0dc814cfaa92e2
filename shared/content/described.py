"""Everything generate_metadata learned about what a video says, ready for the document."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.content.captions import Cue
from shared.content.chapters import Chapter
from shared.content.keywords import Keyword
from shared.content.suggestions import Suggestions
from shared.content.transcript import Transcript
from shared.media.models import MadeBy, Rendition


@dataclass
class Content:
    transcript: Transcript | None
    captions: list[Cue]
    chapters: list[Chapter]
    chapter_min_seconds: float
    keywords: list[Keyword]
    suggestions: Suggestions
    files: list[tuple[Rendition, MadeBy]]  # to store: the transcript's words, the captions
    absent: dict[str, str] = field(default_factory=dict)  # why a part is missing, by part name
