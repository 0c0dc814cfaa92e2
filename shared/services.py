"""The composition root: the adapters each function needs, built once per process from its own
settings (shared/config.FUNCTION_SETTINGS). A function gets an adapter only when its settings
include that part: notify has no storage settings, so it gets no storage and reads no key. Only
the doors (shared/function_door.py) call it; use cases receive what it builds."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import requests

from shared.adapters.local_storage import LocalStorage
from shared.adapters.postgres import PostgresDatabase
from shared.adapters.s3_storage import S3Storage
from shared.config import (
    ContentSettings,
    DoorSettings,
    IngestLimits,
    StorageSettings,
    WebhookSettings,
    settings_for,
)
from shared.media.confine import DecodeLimits
from shared.media.probe import FfmpegProbe
from shared.ports import Services, Storage, no_transcriber
from shared.webhooks import EndpointSender

if TYPE_CHECKING:
    from shared.content.suggestions import TextGenerator
    from shared.content.transcript import Transcriber

_built: dict[str, Services[DoorSettings]] = {}


def storage_from(settings: StorageSettings) -> Storage:
    if settings.storage_backend == "supabase":
        from shared.adapters.supabase_storage import SupabaseStorage  # supabase-py only where it is used

        assert settings.supabase_url and settings.supabase_service_role_key  # the settings check it
        return SupabaseStorage(settings.supabase_url, settings.supabase_service_role_key.get_secret_value())
    if settings.storage_backend == "s3":
        return S3Storage(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
        )
    return LocalStorage(settings.storage_root)


def build_services(settings: DoorSettings) -> Services[DoorSettings]:
    """The adapters the settings' components call for; only generate_metadata's (ContentSettings)
    include the speech and text stack."""
    content = settings if isinstance(settings, ContentSettings) else None
    return Services(
        settings=settings,
        db=PostgresDatabase(settings.database_url.get_secret_value()),
        worker=settings.worker_id or f"{socket.gethostname()}:{os.getpid()}",
        storage=storage_from(settings) if isinstance(settings, StorageSettings) else None,
        media=FfmpegProbe(DecodeLimits.from_settings(settings)) if isinstance(settings, IngestLimits) else None,
        webhooks=(
            EndpointSender(settings.webhook_timeout_seconds, settings.webhook_allowed_networks)
            if isinstance(settings, WebhookSettings)
            else None
        ),
        transcriber=transcriber_loader(content) if content else no_transcriber,
        text_generator=text_generator_from(content) if content else None,
    )


def services_for(function: str) -> Services[DoorSettings]:
    """Built on the first event a function serves, then kept for the life of the process."""
    if function not in _built:
        _built[function] = build_services(settings_for(function))
    return _built[function]


def reset_services() -> None:
    """Close what was built and forget it, so the next event reads the settings again."""
    for svc in _built.values():
        close = getattr(svc.db, "close", None)
        if close is not None:
            close()
    _built.clear()


def transcriber_loader(settings: ContentSettings) -> Callable[[], Transcriber | None]:
    """The model loads on first use, not for a video without audio."""
    if settings.transcriber == "none":
        return no_transcriber

    @lru_cache(maxsize=1)
    def load() -> Transcriber | None:
        if settings.transcriber == "api":
            from shared.adapters.transcription_api import TranscriptionApi

            key = settings.transcription_api_key
            return TranscriptionApi(
                requests.Session(),
                settings.transcription_api_base_url or "",  # required by the settings' check
                settings.transcription_model,
                key.get_secret_value() if key else None,
                settings.transcription_timeout_seconds,
                settings.transcription_attempts,
            )
        from shared.adapters.whisper_transcriber import WhisperTranscriber

        return WhisperTranscriber(settings.model_cache_dir, settings.transcriber_threads)

    return load


def text_generator_from(settings: ContentSettings) -> TextGenerator | None:
    """None: the extractive default."""
    s = settings
    if s.text_generator != "chat_completions" or not (s.text_api_base_url and s.text_model):
        return None
    from shared.adapters.chat_completions import ChatCompletionsTextGenerator

    return ChatCompletionsTextGenerator(
        requests.Session(),
        s.text_api_base_url,
        s.text_model,
        s.text_api_key.get_secret_value() if s.text_api_key else None,
        s.text_timeout_seconds,
        s.text_attempts,
    )
