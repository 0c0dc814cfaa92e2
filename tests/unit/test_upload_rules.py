from uuid import UUID

import pytest

from shared.config import Settings
from shared.domain import PipelineError, Reason
from shared.usecases.ingest import check_limits, path_owner

OWNER = "00000000-0000-4000-8000-000000000001"


def test_owner_comes_from_the_first_folder():
    assert path_owner("uploads", f"{OWNER}/holiday.mp4") == UUID(OWNER)
    assert path_owner("uploads", f"{OWNER}/café 東京 🎬.mp4") == UUID(OWNER)  # Unicode names are fine
    assert path_owner("uploads", f"{OWNER}/2026/holiday.mp4") == UUID(OWNER)


@pytest.mark.parametrize(
    "name",
    [
        "holiday.mp4",
        f"{OWNER}/",
        "not-a-uuid/holiday.mp4",
        f"{OWNER}/../other/x.mp4",
        f"/{OWNER}/x.mp4",
        f"{OWNER}/it's.mp4",
        f'{OWNER}/"quoted".mp4',
        f"{OWNER}/line\nbreak.mp4",
        "",
        f"{OWNER}//x.mp4",
        f"{OWNER}/" + b"caf\xe9.mp4".decode(errors="surrogateescape"),
        f"{OWNER}/caf\ufffd.mp4",
        f"{OWNER}/\u202egpj.exe",
        f"{OWNER}/c1\x85control.mp4",
        f"{OWNER}/" + "a" * 1037 + ".mp4",  # 1041 bytes: no file system stores such a name
        f"{OWNER}/" + "é" * 128 + ".mp4",  # 260 bytes in UTF-8
    ],
)
def test_bad_paths_are_refused_with_bad_path(name):
    with pytest.raises(PipelineError) as info:
        path_owner("uploads", name)
    assert info.value.reason is Reason.BAD_PATH


@pytest.mark.parametrize(
    "size, reason",
    [
        (None, Reason.OBJECT_MISSING),
        (0, Reason.EMPTY_FILE),
        (101, Reason.TOO_LARGE),
    ],
)
def test_size_limits(size, reason):
    with pytest.raises(PipelineError) as info:
        check_limits(size, Settings(max_upload_bytes=100))
    assert info.value.reason is reason


def test_size_within_limit_passes():
    assert check_limits(100, Settings(max_upload_bytes=100)) == 100
