"""The offline transcriber on real sound: Whisper hears espeak-ng's sentence, and a melody, a
drone of noise, applause or a tone come out as a clear no-speech result rather than invented
words."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.clips import VOICE, lavfi, run_ffmpeg
from shared.adapters.whisper_transcriber import WhisperTranscriber
from shared.config import Settings
from shared.content.transcript import transcribe

pytestmark = pytest.mark.integration

CLAPPERS = "+".join(f"exp(-40*mod(t*{3 + 0.23 * k:.2f}+{0.083 * k:.3f}\\,1))" for k in range(12))
SOUNDS = {
    "tone": ["-f", "lavfi", "-i", "sine=f=440:d=6"],
    "chord": ["-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*261*t)+0.3*sin(2*PI*329*t)+0.3*sin(2*PI*392*t):d=6"],
    # a tune of eight notes a second's half apart, with a swell: rhythm, like speech, but no words
    "melody": [
        *lavfi(r"aevalsrc=0.5*sin(2*PI*(220+110*floor(mod(t*4\,8)))*t)*(0.6+0.4*sin(2*PI*2*t)):d=6"),
    ],
    "noise": ["-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.3:d=6"],
    # twelve people clapping out of step: bursts of noise, each dying away in ~25 ms
    "applause": ["-f", "lavfi", "-i", f"aevalsrc=(random(0)*2-1)*0.12*({CLAPPERS}):d=6", "-af", "highpass=f=700"],
}


@pytest.fixture(scope="module")
def engine() -> WhisperTranscriber:
    return WhisperTranscriber(Settings().model_cache_dir)


def said(text: str) -> set[str]:
    """The words, without Whisper's capitals and punctuation."""
    return {w.strip(".,!?").lower() for w in text.split()}


def wav16k(path: Path, args: list[str]) -> Path:
    run_ffmpeg([*args, "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(path)])
    return path


@pytest.mark.parametrize("sound", sorted(SOUNDS))
def test_sound_without_words_is_no_speech(engine, tmp_path, sound):
    got = transcribe(engine, wav16k(tmp_path / f"{sound}.wav", SOUNDS[sound]), [], 6.0)
    assert not got.speech and got.words == [], [w.text for w in got.words]
    assert got.no_speech_reason == "no speech was recognised: the sound is music, tones or noise"


def test_a_spoken_sentence_is_heard_with_times(engine, tmp_path):
    spoken = tmp_path / "spoken.wav"
    subprocess.run(["espeak-ng", *VOICE, "-w", str(spoken), "Our football team won the championship game."], check=True)
    wav = wav16k(tmp_path / "s.wav", ["-i", str(spoken), "-af", "adelay=2000:all=1,apad=pad_dur=1"])
    got = transcribe(engine, wav, [], 8.0)
    assert got.speech and {"football", "team", "championship", "game"} <= said(got.text)
    assert got.language == "en" and got.language_probability is not None
    assert 1.8 < got.words[0].start < got.words[-1].end < 7.0
    assert all(0 <= w.confidence <= 1 and w.end > w.start for w in got.words)


SENTENCES = [
    "Our football team won the championship game.",
    "Welcome to the kitchen where we cook pasta.",
    "The president spoke about jobs and the economy.",
    "Fresh tomato sauce tastes better in summer.",
]


def test_eight_requests_at_once_each_get_their_own_words(engine, tmp_path):
    """A function instance serves requests on several threads with one loaded model."""
    from concurrent.futures import ThreadPoolExecutor

    wavs = []
    for i, sentence in enumerate(SENTENCES):
        spoken = tmp_path / f"spoken{i}.wav"
        subprocess.run(["espeak-ng", *VOICE, "-w", str(spoken), sentence], check=True)
        wavs.append(wav16k(tmp_path / f"s{i}.wav", ["-i", str(spoken), "-af", "apad=pad_dur=1"]))
    alone = [transcribe(engine, wav, [], 6.0).text for wav in wavs]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda wav: transcribe(engine, wav, [], 6.0).text, wavs * 2))
    assert together == alone * 2


def test_no_caption_starts_more_than_a_third_of_a_second_before_its_words(engine, tmp_path):
    """Three sentences placed at known times after pauses (Whisper base puts a word's start up to
    0.4 s early after a pause): each sentence's first caption starts no more than 0.3 s before
    the sound of its first word, and not after it."""
    from shared.content.captions import cues
    from shared.content.transcript import frame_energies

    placed = {1.0: SENTENCES[0], 6.5: SENTENCES[1], 12.0: SENTENCES[2]}
    inputs, graph, onsets = [], [], []
    for i, (at, sentence) in enumerate(placed.items()):
        raw = tmp_path / f"raw{i}.wav"
        subprocess.run(["espeak-ng", *VOICE, "-w", str(raw), sentence], check=True)
        spoken = wav16k(tmp_path / f"p{i}.wav", ["-i", str(raw)])
        energies = frame_energies(spoken.read_bytes()[44:])
        lead = next(k for k, e in enumerate(energies) if e > 1e-4) / 100  # espeak's own lead-in
        onsets.append(at + lead)
        inputs += ["-i", str(spoken)]
        graph.append(f"[{i}:a]adelay={int(at * 1000)}:all=1[a{i}]")
    mix = ";".join(graph) + ";" + "".join(f"[a{i}]" for i in range(len(placed))) + "amix=inputs=3:normalize=0"
    wav = wav16k(tmp_path / "placed.wav", [*inputs, "-filter_complex", mix, "-t", "18"])
    words = transcribe(engine, wav, [], 18.0).words
    starts = [c.start for c in cues(words)]
    for onset in onsets:
        first = min(starts, key=lambda s: abs(s - onset))
        assert onset - 0.3 <= first <= onset + 0.05, (onset, starts)
