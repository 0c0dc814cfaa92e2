"""The dependencies of a function process, built once from the settings on first use."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import requests

from shared.adapters.local_storage import LocalStorage
from shared.adapters.postgres import PostgresDatabase
from shared.adapters.s3_storage import S3Storage
from shared.config import Settings, get_settings
from shared.ports import Database, Storage

if TYPE_CHECKING:  # only generate_metadata loads the speech and text stack (numpy, the model)
    from shared.content.suggestions import TextGenerator
    from shared.content.transcript import Transcriber


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    storage: Storage
    worker: str
    http: requests.Session


def storage_from(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return S3Storage(
            endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
            access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
            secret_access_key=(settings.s3_secret_access_key.get_secret_value()
                               if settings.s3_secret_access_key else None),
        )
    return LocalStorage(settings.storage_root)


@lru_cache(maxsize=1)
def get_services() -> Services:
    settings = get_settings()
    return Services(
        settings=settings,
        db=PostgresDatabase(settings.database_url.get_secret_value()),
        storage=storage_from(settings),
        worker=settings.worker_id or f"{socket.gethostname()}:{os.getpid()}",
        http=requests.Session(),
    )


@lru_cache(maxsize=1)
def get_transcriber() -> Transcriber | None:
    """Built on first use: only generate_metadata loads a speech model."""
    if get_settings().transcriber == "none":
        return None
    from shared.adapters.pocketsphinx_transcriber import PocketSphinxTranscriber

    return PocketSphinxTranscriber()


def text_generator(svc: Services) -> TextGenerator | None:
    """None: the extractive default."""
    s = svc.settings
    if s.text_generator != "chat_completions" or not (s.text_api_base_url and s.text_model):
        return None
    from shared.adapters.chat_completions import ChatCompletionsTextGenerator

    return ChatCompletionsTextGenerator(
        svc.http, s.text_api_base_url, s.text_model, s.text_api_key.get_secret_value() if s.text_api_key else None,
        s.text_timeout_seconds, s.text_attempts)
