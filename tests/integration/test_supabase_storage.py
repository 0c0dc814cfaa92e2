"""The Supabase Storage adapter against a server answering the Storage API's request shapes:
uploads with their content type, overwrites, signed-URL reads by ranges (held as asked), resumable
uploads for large files, and each failure as the port names it."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters.supabase_storage import READ_CHUNK, TUS_CHUNK, SupabaseStorage, storage_failure
from shared.domain import ObjectMissing, PipelineError, StorageUnavailable, UnsafePath
from shared.media.source_file import open_source
from tests.storage_api import StorageApi

pytestmark = pytest.mark.integration

# supabase-py wants a key shaped like a JWT; the server checks it comes as apikey and Bearer.
KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl"


@pytest.fixture
def api() -> Iterator[StorageApi]:
    server = StorageApi(KEY, max_bytes=40 * 1024**2)
    yield server
    server.close()


@pytest.fixture
def storage(api: StorageApi) -> SupabaseStorage:
    return SupabaseStorage(api.url, KEY, resumable_above=8 * 1024**2)


def file_of(tmp_path: Path, size: int, name: str = "f.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def test_a_file_goes_up_with_its_content_type_and_comes_back_whole(storage, api, tmp_path):
    src = file_of(tmp_path, 300_000, "poster.jpg")
    storage.upload("derived", "owner/video/poster.jpg", src, "image/jpeg")
    assert api.objects[("derived", "owner/video/poster.jpg")] == (src.read_bytes(), "image/jpeg")
    assert storage.size("derived", "owner/video/poster.jpg") == 300_000
    with storage.reading("derived", "owner/video/poster.jpg") as stored, open_source(stored) as f:
        assert f.read() == src.read_bytes()


def test_a_rerun_overwrites_what_it_wrote(storage, api, tmp_path):
    storage.upload("derived", "o/v/a.txt", file_of(tmp_path, 10), "text/plain")
    second = file_of(tmp_path, 20, "b.bin")
    storage.upload("derived", "o/v/a.txt", second, "text/plain")  # x-upsert: no 409 Duplicate
    assert api.objects[("derived", "o/v/a.txt")][0] == second.read_bytes()


def test_a_missing_object_is_none_or_object_missing(storage):
    assert storage.size("uploads", "owner/nothing.mp4") is None
    with pytest.raises(ObjectMissing), storage.reading("uploads", "owner/nothing.mp4"):
        pass


def test_a_large_file_goes_up_resumably_in_6_mib_chunks(storage, api, tmp_path):
    src = file_of(tmp_path, 2 * TUS_CHUNK + 12345, "proxy.mp4")
    storage.upload("derived", "o/v/proxy.mp4", src, "video/mp4")
    assert api.objects[("derived", "o/v/proxy.mp4")] == (src.read_bytes(), "video/mp4")
    assert [m for m, p in api.requests if p.startswith("/upload/resumable")] == ["POST", "PATCH", "PATCH", "PATCH"]


def test_a_read_holds_what_it_asked_for_not_the_object(storage, api):
    data = os.urandom(32 * 1024**2)
    api.objects[("uploads", "o/big.mp4")] = (data, "video/mp4")
    tracemalloc.start()
    try:
        with storage.reading("uploads", "o/big.mp4") as stored, open_source(stored) as f:
            pieces = iter(lambda: f.read(READ_CHUNK), b"")
            assert sum(len(piece) for piece in pieces) == len(data)
            f.seek(5 * 1024**2 + 7)
            assert f.read(100) == data[5 * 1024**2 + 7 : 5 * 1024**2 + 107]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * READ_CHUNK, f"peak {peak / 1024**2:.1f} MiB for a 32 MiB object"


def test_a_read_cut_short_is_transient(storage, api):
    api.objects[("uploads", "o/clip.mp4")] = (os.urandom(3 * 1024**2), "video/mp4")
    api.drop_downloads_after = 1024**2
    with pytest.raises(StorageUnavailable, match="broke off"), storage.reading("uploads", "o/clip.mp4") as stored:
        stored.read(0, 3 * 1024**2)


def test_a_file_over_the_bucket_limit_is_refused_for_good(storage, tmp_path):
    with pytest.raises(PipelineError, match="413") as refused:
        storage.upload("derived", "o/v/huge.bin", file_of(tmp_path, 41 * 1024**2), "application/octet-stream")
    assert not refused.value.retryable


def test_a_wrong_key_is_refused_for_good(api, tmp_path):
    other = SupabaseStorage(api.url, KEY.replace("c2ln", "bm90"))
    with pytest.raises(PipelineError, match="Invalid Compact JWS"):
        other.upload("derived", "o/x.txt", file_of(tmp_path, 5), "text/plain")


def test_an_unreachable_api_is_transient(tmp_path):
    dead = SupabaseStorage("http://127.0.0.1:9", KEY, timeout=2)
    with pytest.raises(StorageUnavailable):
        dead.size("uploads", "o/x.mp4")


def test_unsafe_keys_never_reach_the_api(storage, api):
    with pytest.raises(UnsafePath):
        storage.size("uploads", "o/../other/x.mp4")
    assert api.requests == []


def test_the_settings_choose_it_and_insist_on_its_url_and_key(api):
    from pydantic import ValidationError

    from shared.config import Settings
    from shared.services import storage_from

    with pytest.raises(ValidationError, match="VIDPIPE_SUPABASE_URL"):
        Settings(storage_backend="supabase")
    chosen = storage_from(Settings(storage_backend="supabase", supabase_url=api.url, supabase_service_role_key=KEY))
    assert isinstance(chosen, SupabaseStorage)


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (404, ObjectMissing, None),
        (408, StorageUnavailable, None),
        (429, StorageUnavailable, None),
        (503, StorageUnavailable, None),
        (400, PipelineError, False),
        (409, PipelineError, False),  # Duplicate: only without x-upsert, which this adapter always sends
        (413, PipelineError, False),
    ],
)
def test_what_each_refusal_means(status, kind, retryable):
    got = storage_failure(status, "message")
    assert isinstance(got, kind) and getattr(got, "retryable", None) is retryable
