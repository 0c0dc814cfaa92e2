"""The S3 adapter against moto's S3 server over real HTTP."""

import contextlib
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from shared.adapters.s3_storage import S3Storage
from shared.domain import ObjectMissing, StorageUnavailable, UnsafePath


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def storage(s3_url) -> S3Storage:
    client = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    for bucket in ("uploads", "derived"):
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
    return S3Storage(s3_url, "us-east-1", "test", "test")


def test_upload_size_and_local_copy_round_trip(storage, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    storage.upload("derived", "owner/video/a.bin", src, "application/octet-stream")
    assert storage.size("derived", "owner/video/a.bin") == 1000
    with storage.local_copy("derived", "owner/video/a.bin") as local:
        assert local.read_bytes() == b"x" * 1000
        kept = local
    assert not kept.exists()  # the temporary copy is cleaned up


def test_missing_object(storage):
    assert storage.size("uploads", "owner/none.mp4") is None
    with pytest.raises(ObjectMissing), storage.local_copy("uploads", "owner/none.mp4"):
        pass


def test_unsafe_keys_are_refused(storage):
    with pytest.raises(UnsafePath):
        storage.size("uploads", "owner/../other/x.mp4")


def test_unreachable_endpoint_is_transient():
    dead = S3Storage("http://127.0.0.1:9", "us-east-1", "test", "test")
    with pytest.raises(StorageUnavailable):
        dead.size("uploads", "owner/x.mp4")
