"""The speech corpus the transcription tests and bench/speech.py score Whisper on: sentences the
project makes with espeak-ng in English, German, Spanish and French, and real human speech from
Debian packages that `make setup` installs: a LibriVox reading and spoken commands
(pocketsphinx-testdata), the channel names alsa-utils speaks, and Asterisk's French and Spanish
voice prompts with their published texts."""

from __future__ import annotations

import gzip
import re
import subprocess
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

from infra.clips import run_ffmpeg
from shared.content.keywords import keywords, stop_words
from shared.content.transcript import Transcriber, Transcript, running_text, transcribe

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
ALSA = Path("/usr/share/sounds/alsa")
ASTERISK = {"fr": "fr_CA_f_June", "es": "es_MX_f_Allison"}
PROMPTS_PER_LANGUAGE = 8  # the first sentences (four words or more) in the prompt list's order

SYNTHETIC = {
    "en": [
        "The river flows past the old mill every spring.",
        "She painted the kitchen walls a bright shade of yellow.",
        "Our team will visit the mountain village next week.",
    ],
    "de": [
        "Der Zug nach Berlin fährt heute am Abend ab.",
        "Meine Schwester kocht gerne Suppe mit frischem Gemüse.",
        "Im Garten blühen im Sommer viele bunte Blumen.",
    ],
    "es": [
        "El tren sale de la estación por la mañana.",
        "Mi hermano cocina una sopa deliciosa con verduras.",
        "En el jardín hay muchas flores de colores.",
    ],
    "fr": [
        "Le train part de la gare tous les matins.",
        "Ma sœur prépare une soupe avec des légumes frais.",
        "Dans le jardin il y a beaucoup de fleurs colorées.",
    ],
}
# espeak-ng's default German voice is unintelligible to Whisper base (15 of 25 words wrong even
# with the language given); its Klatt variant is the clearest of the variants measured (7 of 25).
# No French variant helps: all leave more than half the words wrong.
VOICES = {"en": "en-us", "de": "de+klatt", "es": "es", "fr": "fr-fr"}
NUMBERS = {
    "en": "zero one two three four five six seven eight nine ten",
    "de": "null eins zwei drei vier fünf sechs sieben acht neun zehn",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve diez",
    "fr": "zéro un deux trois quatre cinq six sept huit neuf dix",
}
# Typos in Asterisk's published prompt texts: the speaker says the word right, and a transcript
# that writes it right must not count as wrong.
ERRATA = {"présentemnet": "présentement", "Veuillez recomposez": "Veuillez recomposer"}


@dataclass(frozen=True)
class Clip:
    name: str
    language: str
    said: str  # the reference transcript
    wav: Path


def normalised(text: str, language: str) -> list[str]:
    """Words for scoring: case, accents (the Spanish prompts' texts have none), punctuation and
    whether a number is written in digits or in the language's words do not count."""
    numbers = NUMBERS[language].split()
    words = re.findall(r"[\w']+", _plain(text))
    return [_plain(numbers[int(w)]) if w.isdigit() and int(w) < len(numbers) else w for w in words]


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    return "".join(c for c in text if not unicodedata.combining(c))


def edits(reference: list[str], heard: list[str]) -> int:
    row = list(range(len(heard) + 1))
    for i, r in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


def to_wav(src_args: list[str], out: Path) -> Path:
    """16 kHz mono with half a second of quiet around it, as the process step would hand it on."""
    run_ffmpeg([*src_args, "-af", "adelay=500:all=1,apad=pad_dur=0.5", "-ar", "16000", "-ac", "1", str(out)])
    return out


def make_corpus(root: Path) -> list[Clip]:
    """Every clip of the corpus, as 16 kHz WAV files under root."""
    clips = []
    for language, sentences in SYNTHETIC.items():
        for i, sentence in enumerate(sentences):
            spoken = root / f"{language}{i}.raw.wav"
            subprocess.run(["espeak-ng", "-v", VOICES[language], "-s", "150", "-w", str(spoken), sentence], check=True)
            clips.append(
                Clip(
                    f"espeak {language} {i}",
                    language,
                    sentence,
                    to_wav(["-i", str(spoken)], root / f"{language}{i}.wav"),
                )
            )
    for line in (TESTDATA / "librivox" / "transcription").read_text().splitlines():
        said, name = re.match(r"<s> (.*) </s> \((.*)\)", line).groups()  # type: ignore[union-attr]
        wav = to_wav(["-i", str(TESTDATA / "librivox" / f"{name}.wav")], root / f"{name}.wav")
        clips.append(Clip(f"librivox {name[-4:]}", "en", said, wav))
    for line in (TESTDATA / "cards" / "cards.transcription").read_text().splitlines():
        said, name = re.match(r"<s> (.*?)\s*</s> \((.*)\)", line).groups()  # type: ignore[union-attr]
        clips.append(
            Clip(
                f"cards {name}",
                "en",
                said,
                to_wav(["-i", str(TESTDATA / "cards" / f"{name}.wav")], root / f"cards{name}.wav"),
            )
        )
    raw = ["-f", "s16le", "-ar", "16000", "-ac", "1", "-i", str(TESTDATA / "goforward.raw")]
    clips.append(Clip("goforward", "en", "go forward ten meters", to_wav(raw, root / "goforward.wav")))
    clips += asterisk_prompts(root)
    for wav in sorted(ALSA.glob("*_*.wav")):
        said = wav.stem.replace("_", " ")
        clips.append(Clip(f"alsa {wav.stem}", "en", said, to_wav(["-i", str(wav)], root / wav.name)))
    return clips


def asterisk_prompts(root: Path) -> list[Clip]:
    """The first sentences of Asterisk's French and Spanish prompt lists, with their published texts."""
    clips = []
    for language, voice in ASTERISK.items():
        listing = gzip.decompress(
            Path(f"/usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz").read_bytes()
        )
        prompts = []
        for line in listing.decode("utf-8").splitlines():
            name, _, said = line.partition(": ")
            wav = Path("/usr/share/asterisk/sounds") / voice / f"{name}.wav"
            sentence = said and not line.startswith(";") and len(said.split()) >= 4 and not re.search(r"[\[(]", said)
            if sentence and wav.is_file():
                for typo, right in ERRATA.items():
                    said = said.replace(typo, right)
                prompts.append((name, said, wav))
        for name, said, wav in prompts[:PROMPTS_PER_LANGUAGE]:
            wav16 = to_wav(["-i", str(wav)], root / f"{language}-{name}.wav")
            clips.append(Clip(f"asterisk {language} {name}", language, said, wav16))
    return clips


def seconds(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def hear(engine: Transcriber, clip: Clip) -> Transcript:
    return transcribe(engine, clip.wav, [], seconds(clip.wav))


def content_words(clip: Clip) -> set[str]:
    stop = {w for s in stop_words(clip.language) for w in normalised(s, clip.language)}
    return {w for w in normalised(clip.said, clip.language) if w not in stop and len(w) >= 3 and not w.isdigit()}


def keyword_words(t: Transcript, language: str) -> set[str]:
    ranked = keywords(running_text(t.utterances()), limit=15, language=t.language or language)
    return {w for k in ranked for w in normalised(k.text, language)}
