"""The S3 adapter against moto's S3 server over real HTTP."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra.local.postgres import free_port
from shared.adapters.s3_storage import TRANSFER, S3Storage
from shared.domain import ObjectMissing, StorageUnavailable, UnsafePath
from shared.media.source_file import open_source


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def storage(s3_url) -> S3Storage:
    client = boto3.client(
        "s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    for bucket in ("uploads", "derived"):
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
    return S3Storage(s3_url, "us-east-1", "test", "test")


def test_upload_size_and_read_round_trip(storage, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    storage.upload("derived", "owner/video/a.bin", src, "application/octet-stream")
    assert storage.size("derived", "owner/video/a.bin") == 1000
    with storage.reading("derived", "owner/video/a.bin") as stored, open_source(stored) as f:
        assert f.read() == b"x" * 1000


def test_missing_object(storage):
    assert storage.size("uploads", "owner/none.mp4") is None
    with pytest.raises(ObjectMissing), storage.reading("uploads", "owner/none.mp4"):
        pass


def test_unsafe_keys_are_refused(storage):
    with pytest.raises(UnsafePath):
        storage.size("uploads", "owner/../other/x.mp4")


def test_unreachable_endpoint_is_transient():
    dead = S3Storage("http://127.0.0.1:9", "us-east-1", "test", "test")
    with pytest.raises(StorageUnavailable):
        dead.size("uploads", "owner/x.mp4")


@pytest.fixture(scope="module")
def s3_process_url() -> Iterator[str]:
    """moto as its own process, so this process's memory holds only the client's buffers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


def test_a_large_object_is_read_without_being_held_in_memory(s3_process_url, tmp_path):
    boto3.client(
        "s3",
        endpoint_url=s3_process_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="uploads")
    storage = S3Storage(s3_process_url, "us-east-1", "test", "test")
    # The design's promise: never more than the parts in flight, whatever the object's size.
    in_flight = TRANSFER.max_concurrency * TRANSFER.multipart_chunksize
    size = 2 * in_flight
    src = tmp_path / "big.bin"
    with src.open("wb") as f:
        for _ in range(size // 1024**2):
            f.write(os.urandom(1024**2))
    storage.upload("uploads", "owner/big.bin", src, "video/mp4")
    tracemalloc.start()
    try:
        with storage.reading("uploads", "owner/big.bin") as stored, open_source(stored) as f:
            assert sum(len(piece) for piece in iter(lambda: f.read(1024**2), b"")) == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= in_flight, f"peak {peak / 1024**2:.0f} MiB for a {size // 1024**2} MiB object"
