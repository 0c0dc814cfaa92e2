"""Settings by component: each function reads only its parts, and the composition root builds
only the adapters those parts call for."""

from __future__ import annotations

import dataclasses

import pytest

from shared.config import (
    FUNCTION_SETTINGS,
    GenerateMetadataSettings,
    IngestSettings,
    NotifySettings,
    ProcessSettings,
    RenditionSettings,
    Settings,
    StorageSettings,
)
from shared.media.plan import RenditionOptions
from shared.services import build_services


@pytest.fixture
def hosted_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a deploy hands a function that stores files (and, by mistake, one that does not)."""
    monkeypatch.setenv("VIDPIPE_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("VIDPIPE_S3_ENDPOINT_URL", "http://127.0.0.1:9/storage/v1/s3")
    monkeypatch.setenv("VIDPIPE_SUPABASE_SERVICE_ROLE_KEY", "service-role-key")
    monkeypatch.setenv("VIDPIPE_PROXY_CRF", "30")
    monkeypatch.setenv("VIDPIPE_WEBHOOK_TIMEOUT_SECONDS", "7")


def test_notify_reads_no_storage_settings_and_gets_no_storage(hosted_env):
    settings = NotifySettings()
    assert not isinstance(settings, StorageSettings)
    assert "supabase_service_role_key" not in settings.model_dump() and "storage_root" not in settings.model_dump()
    svc = build_services(settings)
    assert (svc.storage, svc.media) == (None, None) and svc.webhooks is not None
    assert settings.webhook_timeout_seconds == 7


@pytest.mark.parametrize("function", ["ingest", "process", "generate_metadata"])
def test_the_steps_get_their_storage_and_no_webhook_sender(hosted_env, function):
    svc = build_services(FUNCTION_SETTINGS[function]())
    assert type(svc.storage).__name__ == "S3Storage" and svc.webhooks is None
    assert (svc.media is not None) == (function != "generate_metadata")
    assert not hasattr(svc.settings, "webhook_timeout_seconds")


def test_each_function_has_the_settings_of_its_parts_only():
    fields = {name: set(kind.model_fields) for name, kind in FUNCTION_SETTINGS.items()}
    assert "max_upload_bytes" in fields["ingest"] and "proxy_crf" not in fields["ingest"]
    assert {"proxy_crf", "max_frame_pixels"} <= fields["process"] and "transcriber" not in fields["process"]
    assert "transcriber" in fields["generate_metadata"] and "max_upload_bytes" not in fields["generate_metadata"]
    assert set(Settings.model_fields) == set.union(*fields.values()) | {
        "dispatch_poll_seconds",
        "sweep_every_seconds",
        "sweep_stale_seconds",
    }
    assert [IngestSettings, ProcessSettings, GenerateMetadataSettings, NotifySettings] == list(
        FUNCTION_SETTINGS.values()
    )


def test_rendition_options_come_from_the_settings_alone(hosted_env):
    settings = RenditionSettings()
    options = settings.rendition_options()
    assert options.proxy_crf == 30  # from the environment, as in production
    for field in dataclasses.fields(RenditionOptions):
        if field.name not in ("hls", "hls_heights"):
            assert getattr(options, field.name) == getattr(settings, field.name), field.name
    assert (options.hls, options.hls_heights) == (settings.hls_enabled, tuple(settings.hls_heights))
    with pytest.raises(TypeError):
        RenditionOptions()  # type: ignore[call-arg]  # no defaults of its own to drift from


@pytest.mark.parametrize(
    ("choice", "needs"),
    [
        ({"storage_backend": "supabase"}, "VIDPIPE_SUPABASE_URL and VIDPIPE_SUPABASE_SERVICE_ROLE_KEY"),
        ({"transcriber": "api"}, "VIDPIPE_TRANSCRIPTION_API_BASE_URL"),
        ({"text_generator": "chat_completions"}, "VIDPIPE_TEXT_API_BASE_URL and VIDPIPE_TEXT_MODEL"),
    ],
)
def test_a_choice_without_what_it_needs_is_refused_in_every_composition(choice, needs):
    for kind in (Settings, *FUNCTION_SETTINGS.values()):
        if set(choice) <= set(kind.model_fields):
            with pytest.raises(ValueError, match=needs):
                kind(**choice)
