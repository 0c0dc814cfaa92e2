-- vidpipe: enums and tables. Read with the next migrations in order:
-- tables → state machine (transitions, claims, results) → events (outbox, triggers) → RLS.
-- Every statement is idempotent so the set applies cleanly to a fresh or an existing database.

-- Enums ---------------------------------------------------------------------------------------
do $$
begin
  create type public.job_status as enum (
    'queued',      -- waiting for the process step (emits an event for `process`)
    'processing',  -- process holds the lease: probing, transcoding, storing artifacts
    'processed',   -- artifacts stored, waiting for generate_metadata (emits its event)
    'describing',  -- generate_metadata holds the lease: building the metadata document
    'ready',       -- terminal success: metadata written (emits the event for `notify`)
    'failed'       -- terminal failure with a reason code (emits the event for `notify`)
  );
exception when duplicate_object then null;
end
$$;
comment on type public.job_status is
  'Pipeline state of a processing job. queued/processed/ready/failed wait for a step; '
  'processing/describing are held under a lease. ready and failed are terminal.';

do $$
begin
  create type public.job_step as enum (
    'ingest',             -- validates the upload and creates the video and its job
    'process',            -- queued → processing → processed
    'generate_metadata',  -- processed → describing → ready
    'notify'              -- ready|failed, under a lease, until notified_at is set
  );
exception when duplicate_object then null;
end
$$;
comment on type public.job_step is 'The step of the pipeline a function performs on a job.';

-- Tables --------------------------------------------------------------------------------------
create table if not exists public.ingest_buckets (
  bucket_id text primary key,
  created_at timestamptz not null default now()  -- older objects are not rescued by the sweeper
);
alter table public.ingest_buckets add column if not exists created_at timestamptz not null default now();
comment on table public.ingest_buckets is
  'Storage buckets whose uploads enter the pipeline. Uploads elsewhere are ignored.';

create table if not exists public.videos (
  id uuid primary key default gen_random_uuid(),
  object_id uuid not null unique,   -- storage.objects.id: one video per uploaded object
  owner_id uuid references auth.users (id) on delete cascade,
  bucket text not null,
  path text not null,
  size_bytes bigint,
  content_type text,
  probe jsonb,                      -- ffprobe's JSON for the source, recorded by process
  analysis jsonb,                   -- what process measured: loudness, scenes, black, silence, poster
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.videos is 'One row per uploaded object that reached the pipeline.';
alter table public.videos add column if not exists analysis jsonb;

create table if not exists public.processing_jobs (
  id uuid primary key default gen_random_uuid(),
  video_id uuid not null unique references public.videos (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  status public.job_status not null default 'queued',
  attempts integer not null default 0,       -- attempts of the current step, counted at claim
  max_attempts integer not null default 3,
  lease_owner text,                          -- worker id of the function holding the step
  lease_expires_at timestamptz,
  run_after timestamptz not null default now(),  -- a retried step is not claimable before this
  reason_code text,                          -- stable machine-readable cause when failed
  last_error text,                           -- human sentence for the last failure
  failed_step public.job_step,
  notified_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint lease_complete check ((lease_owner is null) = (lease_expires_at is null)),
  constraint failed_has_reason check (status <> 'failed' or reason_code is not null),
  constraint finished_iff_terminal check ((finished_at is not null) = (status in ('ready', 'failed'))),
  constraint attempts_in_range check (attempts >= 0 and max_attempts >= 1)
);
comment on table public.processing_jobs is
  'The state machine of one video. Only the SQL functions of the state machine change status.';

create table if not exists public.job_transitions (
  from_status public.job_status not null,
  to_status public.job_status not null,
  primary key (from_status, to_status)
);
comment on table public.job_transitions is 'Legal status changes; any other change raises.';

create table if not exists public.job_events (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid,
  from_status public.job_status,
  to_status public.job_status not null,
  attempt integer not null,
  reason_code text,
  message text,
  created_at timestamptz not null default now()
);
comment on table public.job_events is 'History of every status change of every job.';

create table if not exists public.video_artifacts (
  id uuid primary key default gen_random_uuid(),
  video_id uuid not null references public.videos (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  kind text not null,               -- poster | proxy | audio | …
  bucket text not null,
  path text not null,
  bytes bigint not null check (bytes >= 0),
  content_type text not null,
  details jsonb not null default '{}'::jsonb,   -- width, height, duration, tool and version
  created_at timestamptz not null default now(),
  unique (video_id, kind)
);
comment on table public.video_artifacts is 'Files derived from a video by the process step.';

create table if not exists public.video_metadata (
  video_id uuid primary key references public.videos (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  schema_version integer not null,
  document jsonb not null,
  created_at timestamptz not null default now()
);
comment on table public.video_metadata is 'The metadata document of a video, validated by a pydantic model.';

create table if not exists public.event_outbox (
  id bigint generated always as identity primary key,
  target text not null,             -- the function the event is for: ingest | process | …
  payload jsonb not null,           -- Supabase Database Webhook shape
  created_at timestamptz not null default now(),
  available_at timestamptz not null default now(),  -- not delivered before; also the claim lease
  attempts integer not null default 0,
  delivered_at timestamptz,
  dead_at timestamptz,              -- delivery gave up; the sweeper still rescues the job
  last_error text,
  constraint target_known check (target in ('ingest', 'process', 'generate_metadata', 'notify'))
);
comment on table public.event_outbox is
  'Events written in the same transaction as the change that caused them; a dispatcher delivers them.';

create table if not exists public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  url text not null check (url ~ '^https?://'),
  -- 32 bytes from two v4 UUIDs (244 random bits) without needing pgcrypto.
  secret text not null default ('whsec_' || encode(decode(
    replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64')),
  event_types text[] not null default array['video.ready', 'video.failed'],
  enabled boolean not null default true,
  created_at timestamptz not null default now()
);
comment on table public.webhook_endpoints is 'Where an owner wants to hear about their videos.';
comment on column public.webhook_endpoints.secret is 'Standard Webhooks signing secret; service role only.';

create table if not exists public.webhook_deliveries (
  id bigint generated always as identity primary key,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid,
  event_type text not null,
  message_id text not null,         -- the webhook-id header, stable for one event and endpoint
  status_code integer,
  error text,
  latency_ms integer,
  created_at timestamptz not null default now()
);
comment on table public.webhook_deliveries is 'Every attempt to deliver an event to an endpoint.';

-- Indexes -------------------------------------------------------------------------------------
create index if not exists event_outbox_due on public.event_outbox (available_at)
  where delivered_at is null and dead_at is null;
create index if not exists processing_jobs_status on public.processing_jobs (status);
create index if not exists processing_jobs_owner on public.processing_jobs (owner_id);
create index if not exists videos_owner on public.videos (owner_id);
create index if not exists video_artifacts_owner on public.video_artifacts (owner_id);
create index if not exists job_events_job on public.job_events (job_id);
create index if not exists webhook_endpoints_owner on public.webhook_endpoints (owner_id);
create index if not exists webhook_deliveries_job on public.webhook_deliveries (job_id);
create index if not exists webhook_deliveries_message on public.webhook_deliveries (message_id);
