-- vidpipe schema, part 1 of 7: types. Read the files in order (config.toml lists them):
-- types → tables → state machine → events → customer webhooks → sweeper → security.
-- Python mirrors each enum in shared/domain.py; a test keeps each pair equal.

-- pgcrypto signs the events the database sends itself (Supabase keeps it in `extensions`).
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

create type public.job_status as enum (
  'queued',      -- waiting for the process step; an event for `process` is on its way
  'processing',  -- process holds the lease: probing, transcoding, storing artifacts
  'processed',   -- artifacts stored; an event for `generate_metadata` is on its way
  'describing',  -- generate_metadata holds the lease: transcript, captions, the metadata document
  'ready',       -- terminal success: the metadata document is written
  'failed'       -- terminal failure with a reason code; requeue_job puts it back to work
);
comment on type public.job_status is
  'Pipeline state of a job. queued and processed wait for a step; processing and describing are held '
  'under a lease; ready and failed are terminal. Legal changes: public.job_transitions.';

create type public.job_step as enum (
  'ingest',            -- validates the upload, then creates the video and its job (no lease)
  'process',           -- queued → processing → processed
  'generate_metadata'  -- processed → describing → ready
);
comment on type public.job_step is 'A step of a job, done by the function of the same name.';

create type public.pipeline_function as enum (
  'ingest',             -- takes storage.objects INSERT events
  'process',            -- takes jobs that are queued
  'generate_metadata',  -- takes jobs that are processed
  'notify'              -- takes webhook deliveries, one attempt per event
);
comment on type public.pipeline_function is 'The functions the outbox delivers events to.';

create type public.failure_reason as enum (
  'bad_path',           -- not stored as <owner_id>/<file>, or unsafe characters in the path
  'path_not_owned',     -- the path names an owner other than the uploader
  'unknown_owner',      -- the path's owner is not a user
  'unknown_bucket',     -- the bucket does not feed the pipeline (public.ingest_buckets)
  'object_missing',     -- the object or its bytes are gone
  'empty_file',         -- zero bytes
  'too_large',          -- over VIDPIPE_MAX_UPLOAD_BYTES
  'too_long',           -- over VIDPIPE_MAX_DURATION_SECONDS
  'not_a_video',        -- no media container, a still image, or no video stream
  'unsupported_container', -- a playlist, list, image sequence or other kind that opens further files
  'truncated',          -- the upload was cut short: no MP4 index, or the media data stops early
  'bad_dimensions',     -- a frame size no decoder can allocate, none, or over VIDPIPE_MAX_VIDEO_DIMENSION
  'frame_rate_too_high', -- over VIDPIPE_MAX_FRAME_RATE frames a second
  'too_many_frames',    -- over VIDPIPE_MAX_VIDEO_FRAMES frames in all
  'too_many_pixels',    -- frame size times frame rate over VIDPIPE_MAX_PIXELS_PER_SECOND
  'too_many_streams',   -- over VIDPIPE_MAX_STREAMS streams
  'undecodable',        -- the first video frame does not decode
  'media_error',        -- ffmpeg failed on a file that probed fine
  'event_rejected',     -- a function refused the job's event (4xx): a misconfiguration
  'retries_exhausted',  -- a transient failure, a lost worker or an unreachable function outlasted the attempts
  'internal_error'      -- a bug: the function's log has the traceback
);
comment on type public.failure_reason is 'Why a job failed: a stable code, documented in README.md.';

create type public.webhook_event_type as enum (
  'video.ingested',   -- ingest accepted the upload: the job is queued
  'video.playable',   -- the video plays (HLS of the source, or the encoded renditions); work goes on
  'video.processed',  -- the renditions are stored
  'video.ready',      -- the metadata document is written
  'video.failed'      -- the job failed; data.reason says why
);
comment on type public.webhook_event_type is 'The events announced to customers'' webhook endpoints.';

create type public.delivery_carrier as enum (
  'dispatcher',  -- a process of ours reads the outbox and POSTs (infra/dispatcher.py): the local stack
  'pg_net'       -- the database POSTs through pg_net and reconciles with pg_cron: no server of ours
);
comment on type public.delivery_carrier is 'What carries outbox events to the functions.';

create type public.event_subject as enum (
  'storage_object',   -- an upload (storage.objects): ingest's events
  'job',              -- a processing job: the events of the steps it waits for
  'webhook_delivery'  -- one message on its way to one customer endpoint: notify's events
);
comment on type public.event_subject is 'What an outbox event is about; its row is event_outbox.subject_id.';

create type public.webhook_delivery_status as enum (
  'pending',    -- waiting for its next attempt (next_attempt_at)
  'sending',    -- notify is making one attempt, under its claim (sending_until)
  'delivered',  -- the endpoint answered 2xx
  'failed',     -- the retry schedule is spent, the endpoint answered 410, or notify refused the event
  'cancelled'   -- the endpoint was turned off before the delivery finished
);
comment on type public.webhook_delivery_status is 'Where one message stands on its way to one endpoint.';
