"""The settings, read from the environment (prefix VIDPIPE_) once per process, by component.

Each component holds one part's settings; each function reads only the components it works
with (IngestSettings, ProcessSettings, GenerateMetadataSettings, NotifySettings), so `notify`
has no storage settings and never sees the service-role key. `Settings` holds them all, for the
CLI, the local stack and tests. The environment's names are the same in every component."""

from __future__ import annotations

import tempfile
from functools import cache, lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.media.plan import RenditionOptions


class _FromEnv(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDPIPE_", extra="ignore")


def _needs(settings: BaseSettings, choice: str, value: str, *needed: str) -> None:
    """A choice that works only with other settings given, e.g. the Supabase backend with its URL."""
    if getattr(settings, choice) == value and not all(getattr(settings, name) for name in needed):
        names = " and ".join(f"VIDPIPE_{name.upper()}" for name in needed)
        raise ValueError(f"VIDPIPE_{choice.upper()}={value} needs {names}")


class ConnectionSettings(_FromEnv):
    """The database, and the secret that signs the events between the components."""

    # Database: a Postgres URL (direct or through the Supabase pooler).
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:54322/postgres")
    # Standard Webhooks secret shared by the dispatcher (signs) and the functions (verify).
    event_secret: SecretStr | None = None


class DoorSettings(ConnectionSettings):
    """How a function takes its events (shared/function_door.py, shared/serve.py)."""

    # Largest event body a function accepts.
    max_event_bytes: int = 256 * 1024
    # Serving a function (shared/serve.py): workers, and the connections that may wait for them.
    door_threads: int = 8
    door_connections: int = 100
    door_request_seconds: float = 10.0  # request line, headers and body arrive whole within this
    door_body_bytes_per_second: int = 1024**2  # ... plus the body's length at this rate (uploads)
    door_idle_seconds: int = 30  # an idle keep-alive connection is closed after this
    door_max_header_bytes: int = 16 * 1024  # request line and headers together
    # Worker identity in leases and logs; defaults to host:pid.
    worker_id: str | None = None
    # Steps (and webhook sends) one instance works on at once after answering their events (202);
    # more are turned away and come back later. A deployment gives the long steps one each (one
    # ffmpeg run on the instance's cores); the local stack serves each function from one process.
    step_slots: int = Field(default=8, ge=1)


class JobSettings(_FromEnv):
    """How the steps hold jobs: attempts and leases."""

    max_attempts: int = 3
    # A step holds its job under a lease that a heartbeat renews every third of it while the step
    # works, however long that takes: a worker that dies is noticed within this, not within its
    # slowest honest run.
    lease_seconds: int = 45


class StorageSettings(_FromEnv):
    """Where uploads are read and derived files written."""

    # Storage: the local filesystem (embedded stack), Supabase Storage's own API (the project URL
    # and the service-role key), or any S3-protocol endpoint (Supabase Storage's included).
    storage_backend: Literal["local", "supabase", "s3"] = "local"
    supabase_url: str | None = None  # https://<project>.supabase.co
    supabase_service_role_key: SecretStr | None = None
    storage_root: Path = Path(".vidpipe/storage")
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    derived_bucket: str = "derived"

    @model_validator(mode="after")
    def _storage_complete(self) -> StorageSettings:
        _needs(self, "storage_backend", "supabase", "supabase_url", "supabase_service_role_key")
        return self


class IngestLimits(_FromEnv):
    """What the pipeline accepts, checked at ingest and again on what is decoded."""

    # Limits on what ingest accepts.
    max_upload_bytes: int = 10 * 1024**3
    max_duration_seconds: float = 4 * 3600
    max_video_dimension: int = 8192  # widest or tallest frame accepted, in pixels
    # Pixels in one frame: 8K (8192x4320). Decoders refuse larger frames, whatever was declared.
    max_frame_pixels: int = 8192 * 4320
    # Frame size times frame rate: 8K at 30 fps, 4K at 120. The work grows with the duration,
    # not with what a small file can pack into each second (600 frames of 8192x8192 in 2 MB).
    max_pixels_per_second: float = 8192 * 4320 * 30
    # Frames are what the work costs: a tiny file at 1000 fps is hours of decoding and scene cuts.
    max_frame_rate: float = 240.0  # a phone's slow-motion mode
    max_video_frames: int = 864_000  # 4 hours at 60 fps
    max_streams: int = 32  # each stream costs the probe and ffmpeg memory (~0.7 MB an audio stream)


class RenditionSettings(_FromEnv):
    """What the process step makes."""

    # Renditions (all from one ffmpeg run; see shared/media/renditions.py).
    proxy_max_height: int = 720  # short side of the proxy and the thumbnails
    proxy_crf: int = 23
    proxy_preset: str = "veryfast"
    thumbnail_interval_seconds: float | None = None  # None: a tenth of the video, 1 to 60 s
    thumbnail_format: Literal["jpg", "webp"] = "jpg"
    storyboard_tile_width: int = 160
    storyboard_columns: int = 10
    storyboard_rows: int = 10
    storyboard_interval_seconds: float | None = None  # None: the video fits one sprite sheet, ≥ 1 s a tile
    scene_threshold: float = 10.0  # scdet's score (0-100) above which a frame starts a scene
    # A flickering video is a cut at every frame: cuts (and their thumbnails) at least this far
    # apart, so at most 60 a minute, and no more than so many scene thumbnails in all.
    scene_min_gap_seconds: float = 1.0
    max_scene_thumbnails: int = 1000
    analysis_width: int = 320  # frames for scene and black detection, and scene thumbnails
    audio_bitrate: str = "128k"  # the proxy's and the HLS renditions' AAC
    hls_enabled: bool = False
    hls_heights: list[int] = Field(default_factory=lambda: [360, 720, 1080])
    hls_segment_seconds: int = 6

    def rendition_options(self) -> RenditionOptions:
        """What the process step's one ffmpeg run makes, from these settings alone."""
        return RenditionOptions(
            **self.model_dump(include=set(RenditionOptions.__dataclass_fields__) - {"hls", "hls_heights"}),
            hls=self.hls_enabled,
            hls_heights=tuple(self.hls_heights),
        )


class ContentSettings(_FromEnv):
    """How generate_metadata describes a video."""

    # Content metadata (generate_metadata): transcript, captions, chapters, keywords, suggestions.
    # Whisper base (faster-whisper, offline), or none. Its model folder is assembled once per
    # instance under the cache directory (a function's temporary disk by default).
    transcriber: Literal["whisper", "api", "none"] = "whisper"
    model_cache_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "vidpipe-models")
    transcriber_threads: int = 0  # CTranslate2's CPU threads; 0: its default
    # VIDPIPE_TRANSCRIBER=api: an OpenAI-compatible audio/transcriptions API (OpenAI, Groq, a
    # local whisper server); its failures leave the video without a transcript, reason recorded.
    transcription_api_base_url: str | None = None  # e.g. https://api.openai.com/v1
    transcription_api_key: SecretStr | None = None
    transcription_model: str = "whisper-1"
    transcription_timeout_seconds: float = 60.0
    transcription_attempts: int = 2
    transcript_min_confidence: float = 0.35  # a chunk whose words average less is taken for music
    chapter_min_seconds: float = 10.0
    chapter_max_seconds: float = 300.0  # longer stretches without a cut split at a pause
    keywords_max: int = 15
    # Titles and descriptions: the offline extractive default, or an OpenAI-compatible chat
    # completions API (its failures fall back to the default and are recorded).
    text_generator: Literal["extractive", "chat_completions"] = "extractive"
    text_api_base_url: str | None = None  # e.g. https://api.openai.com/v1
    text_api_key: SecretStr | None = None
    text_model: str | None = None
    text_timeout_seconds: float = 30.0
    text_attempts: int = 2

    @model_validator(mode="after")
    def _content_complete(self) -> ContentSettings:
        _needs(self, "transcriber", "api", "transcription_api_base_url")
        _needs(self, "text_generator", "chat_completions", "text_api_base_url", "text_model")
        return self


class WebhookSettings(_FromEnv):
    """How notify sends customers' webhooks."""

    # Outgoing customer webhooks.
    # The whole send, by the wall clock (connect, TLS, request, answer); a delivery's lease is 30 s longer.
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    # Sends at once per owner (one per endpoint): a slow customer holds up only their own deliveries.
    webhook_owner_concurrency: int = Field(default=4, ge=1)
    # Local development only: non-public networks endpoints may resolve to, e.g. '["127.0.0.0/8"]'.
    # Link-local (cloud metadata), multicast and reserved addresses are refused whatever this says.
    webhook_allowed_networks: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    # Seconds to wait before each retry of a failed delivery (Svix's schedule: 5 s, 5 min, 30 min,
    # 2 h, 5 h, 10 h, 10 h), each ± the jitter fraction; the first attempt is immediate.
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    webhook_retry_jitter: float = 0.1


class DispatcherSettings(ConnectionSettings):
    """The local dispatcher's own pace (infra/dispatcher.py)."""

    # The dispatcher's own pace. Which carrier takes the events, where the functions are and the
    # delivery policy (batch, visibility, timeout, attempts, backoff) are the database's
    # delivery_settings row, which both carriers read.
    dispatch_poll_seconds: float = 1.0
    sweep_every_seconds: float = 10.0
    sweep_stale_seconds: int = 120


# What each function reads. The three steps work on jobs and their files.
class StepSettings(DoorSettings, JobSettings, StorageSettings):
    pass


class IngestSettings(StepSettings, IngestLimits):
    pass


class ProcessSettings(StepSettings, IngestLimits, RenditionSettings):
    pass


class GenerateMetadataSettings(StepSettings, ContentSettings):
    pass


class NotifySettings(DoorSettings, WebhookSettings):
    pass


class Settings(IngestSettings, ProcessSettings, GenerateMetadataSettings, NotifySettings, DispatcherSettings):
    """Every component: for the CLI, the local stack and tests."""


FUNCTION_SETTINGS: dict[str, type[DoorSettings]] = {
    "ingest": IngestSettings,
    "process": ProcessSettings,
    "generate_metadata": GenerateMetadataSettings,
    "notify": NotifySettings,
}


@cache
def settings_for(function: str) -> DoorSettings:
    """One function's settings, read once per process."""
    return FUNCTION_SETTINGS[function]()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def forget_settings() -> None:
    """Read the environment again at the next use (for tests that change it)."""
    settings_for.cache_clear()
    get_settings.cache_clear()
