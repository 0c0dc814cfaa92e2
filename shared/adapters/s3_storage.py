"""The Storage port on any S3-protocol endpoint (AWS S3, or Supabase Storage's /storage/v1/s3):
path-style addressing, SigV4."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.domain import ObjectMissing, StorageUnavailable, safe_key
from shared.media.confine import Source

MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
# Ranged parts written straight to disk, at most 4 x 8 MiB in memory whatever the object's size.
TRANSFER = TransferConfig(multipart_chunksize=8 * 1024**2, max_concurrency=4)
SIGNED_URL_SECONDS = 3600


class S3Storage:
    def __init__(
        self, endpoint_url: str | None, region: str, access_key_id: str | None, secret_access_key: str | None
    ) -> None:
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def size(self, bucket: str, path: str) -> int | None:
        bucket, path = safe_key(bucket, path)
        try:
            head = self._client.head_object(Bucket=bucket, Key=path)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING_CODES:
                return None
            raise StorageUnavailable(f"head {bucket}/{path}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"head {bucket}/{path}: {exc}") from exc
        return int(head["ContentLength"])

    @contextmanager
    def reading(self, bucket: str, path: str) -> Iterator[Source]:
        """A presigned GET, which S3 serves by ranges."""
        bucket, path = safe_key(bucket, path)
        size = self.size(bucket, path)
        if size is None:
            raise ObjectMissing(f"{bucket}/{path} does not exist")
        with port_errors("sign", bucket, path):
            url = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": path}, ExpiresIn=SIGNED_URL_SECONDS
            )

        def read(offset: int, n: int) -> bytes:
            last = min(offset + n, size) - 1
            if last < offset:  # from past the end: S3 would answer InvalidRange
                return b""
            with port_errors("read", bucket, path):
                answer = self._client.get_object(Bucket=bucket, Key=path, Range=f"bytes={offset}-{last}")
                return bytes(answer["Body"].read(n))

        yield Source.remote(url, read)

    def upload(self, bucket: str, path: str, src: Path, content_type: str) -> None:
        bucket, path = safe_key(bucket, path)
        try:
            self._client.upload_file(str(src), bucket, path, ExtraArgs={"ContentType": content_type}, Config=TRANSFER)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"upload {bucket}/{path}: {exc}") from exc


@contextmanager
def port_errors(action: str, bucket: str, path: str) -> Iterator[None]:
    """boto3's failures as the port names them: the object's absence, or the storage's trouble."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING_CODES:
            raise ObjectMissing(f"{bucket}/{path} does not exist") from exc
        raise StorageUnavailable(f"{action} {bucket}/{path}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"{action} {bucket}/{path}: {exc}") from exc
