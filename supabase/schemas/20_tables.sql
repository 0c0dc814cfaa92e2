-- vidpipe schema, part 2 of 7: tables and their constraints. Only the functions of the state
-- machine (30_state_machine.sql) write jobs; owners read their own rows (70_security.sql).

-- Uploads and jobs ----------------------------------------------------------------------------
create table public.ingest_buckets (
  bucket_id text primary key,
  created_at timestamptz not null default now()  -- older objects are not rescued by the sweeper
);
comment on table public.ingest_buckets is 'Storage buckets whose uploads enter the pipeline. Uploads elsewhere are ignored.';

create table public.videos (
  id uuid primary key default gen_random_uuid(),
  object_id uuid not null unique,   -- storage.objects.id: one video per uploaded object
  owner_id uuid references auth.users (id) on delete cascade,
  bucket text not null,
  path text not null,
  size_bytes bigint,
  content_type text,
  probe jsonb,                      -- ffprobe's JSON for the source, recorded by process
  analysis jsonb,                   -- what process measured: loudness, scenes, black, silence, poster
  playable_at timestamptz,          -- when it first played: its source remuxed, or its renditions stored
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.videos is 'One row per uploaded object that reached the pipeline.';
create index videos_owner on public.videos (owner_id);

create table public.processing_jobs (
  id uuid primary key default gen_random_uuid(),
  video_id uuid not null unique references public.videos (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  status public.job_status not null default 'queued',
  attempts integer not null default 0,           -- attempts of the current step, counted at claim
  max_attempts integer not null default 3,
  lease_owner text,                              -- the worker holding the step
  lease_expires_at timestamptz,
  run_after timestamptz not null default now(),  -- a retried step is not claimable before this
  reason_code public.failure_reason,             -- why it failed
  last_error text,                               -- a sentence about the last failure
  failed_step public.job_step,
  retries integer not null default 0,            -- times requeued; part of each announcement's webhook-id
  retry_requested_at timestamptz,                -- a requeued ingest awaiting its verdict
  -- How far the running step is (public.report_progress; cleared at every status change): what
  -- it does now (packaging | encoding | transcribing), and how much of how much, in progress_unit
  -- (seconds of the video).
  progress_stage text,
  progress_done double precision,
  progress_total double precision,
  progress_unit text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint lease_complete check ((lease_owner is null) = (lease_expires_at is null)),
  constraint leased_iff_running check ((lease_owner is not null) = (status in ('processing', 'describing'))),
  constraint failed_has_reason check ((status = 'failed') = (reason_code is not null)),
  constraint finished_iff_terminal check ((finished_at is not null) = (status in ('ready', 'failed'))),
  constraint attempts_in_range check (attempts >= 0 and max_attempts >= 1),
  constraint progress_while_running check (progress_stage is null or status in ('processing', 'describing')),
  constraint progress_complete check (
    (progress_stage is null) = (progress_total is null) and (progress_stage is null) = (progress_done is null)
    and (progress_stage is null) = (progress_unit is null)),
  constraint progress_in_range check (progress_done between 0 and progress_total)
);
comment on table public.processing_jobs is
  'The state machine of one video. Every status change goes through public.transition_job.';
create index processing_jobs_status on public.processing_jobs (status);
create index processing_jobs_owner on public.processing_jobs (owner_id);
create index processing_jobs_lease on public.processing_jobs (lease_expires_at) where lease_expires_at is not null;

create table public.job_events (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid,
  from_status public.job_status,
  to_status public.job_status not null,
  attempt integer not null,
  reason_code public.failure_reason,
  message text,
  created_at timestamptz not null default now()
);
comment on table public.job_events is 'History of every status change of every job.';
create index job_events_job on public.job_events (job_id);

-- Results -------------------------------------------------------------------------------------
create table public.video_artifacts (
  id uuid primary key default gen_random_uuid(),
  video_id uuid not null references public.videos (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  kind text not null,               -- poster | proxy | audio | captions_vtt | …
  bucket text not null,
  path text not null,
  bytes bigint not null check (bytes >= 0),
  content_type text not null,
  details jsonb not null default '{}'::jsonb,   -- width, height, duration, tool and version
  created_at timestamptz not null default now(),
  unique (video_id, kind)
);
comment on table public.video_artifacts is
  'Files derived from a video: renditions by the process step, captions and transcript by generate_metadata.';
create index video_artifacts_owner on public.video_artifacts (owner_id);

create table public.video_metadata (
  video_id uuid primary key references public.videos (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  schema_version integer not null,
  document jsonb not null,
  created_at timestamptz not null default now()
);
comment on table public.video_metadata is 'The metadata document of a video, validated by a pydantic model.';

-- Events between the functions ----------------------------------------------------------------
create table public.event_outbox (
  id bigint generated always as identity primary key,
  target public.pipeline_function not null,
  subject_kind public.event_subject not null,
  subject_id uuid not null,         -- the row the event is about: the payload's record
  payload jsonb not null,           -- Supabase Database Webhook shape {type, table, schema, record, old_record}
  created_at timestamptz not null default now(),
  available_at timestamptz not null default now(),  -- not delivered before; also the claim's visibility
  attempts integer not null default 0,
  delivered_at timestamptz,
  dead_at timestamptz,              -- delivery gave up; its work was settled (settle_dead_event)
  last_error text
);
comment on table public.event_outbox is
  'Events written in the transaction of the change that caused them; a dispatcher delivers them.';
create index event_outbox_due on public.event_outbox (available_at) where delivered_at is null and dead_at is null;
create index event_outbox_pending_subject on public.event_outbox (subject_kind, subject_id)
  where delivered_at is null and dead_at is null;

create table public.event_receipts (
  message_id text primary key,      -- the webhook-id of an event a function handled
  function public.pipeline_function not null,
  received_at timestamptz not null default now()
);
comment on table public.event_receipts is
  'Events the functions handled in the last ten minutes, to refuse replays; older signatures no longer verify.';
create index event_receipts_received_at on public.event_receipts (received_at);

-- How events reach the functions, one row: which carrier, where each function is, and the policy
-- both carriers follow (the dispatcher reads the row on every pass, so a change needs no restart).
-- The retry backoff also spaces a job's retries of a failed step. The event secret signs the
-- events the database sends itself (Standard Webhooks); it is kept here only where Supabase Vault
-- is absent. Set with configure_delivery, or change a value with an update.
create table public.delivery_settings (
  singleton boolean primary key default true constraint one_row check (singleton),
  carrier public.delivery_carrier not null default 'dispatcher',
  function_urls jsonb not null default '{}'::jsonb   -- {"ingest": "https://…", "process": …}
    constraint urls_by_function check (jsonb_typeof(function_urls) = 'object'),
  event_secret text constraint secret_is_standard check (event_secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  -- one call: every function answers within seconds (long work goes on after a 202), so a
  -- function that hangs holds pg_net's batch for at most this
  timeout_ms integer not null default 60000 check (timeout_ms > 0),
  max_attempts integer not null default 8 check (max_attempts > 0),    -- deliveries before an event is dead
  visibility_seconds integer not null default 60 check (visibility_seconds > 0),  -- a claimed event is resent after
  batch integer not null default 20 check (batch > 0),  -- events claimed at once
  -- the first retry waits this, each next one twice as long (at most 600 s), ±25 %
  backoff_base_seconds numeric not null default 10 check (backoff_base_seconds > 0 and backoff_base_seconds <= 600),
  updated_at timestamptz not null default now()
);
comment on table public.delivery_settings is
  'How outbox events reach the functions and the policy both carriers follow. One row; set with configure_delivery.';
insert into public.delivery_settings default values;

-- The pg_net requests carrying outbox events, until their answers are reconciled. pg_net keeps no
-- retries and its tables are unlogged, so the outbox stays the record: a lost request only
-- means the event becomes due again when its visibility ends.
create table public.event_requests (
  request_id bigint primary key,    -- net.http_post's id: the row of net._http_response to read
  event_id bigint not null references public.event_outbox (id) on delete cascade,
  sent_at timestamptz not null default now()
);
comment on table public.event_requests is 'pg_net requests in flight, one per outbox event sent.';
create index event_requests_event on public.event_requests (event_id);

-- Customer webhooks ---------------------------------------------------------------------------
create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  -- http(s) only, a host, no credentials; where the host resolves is checked at send time.
  url text not null constraint webhook_endpoints_url_plain
    check (url ~ '^https?://[^/@\s]+(/\S*)?$' and length(url) <= 2048),
  -- 32 bytes from two v4 UUIDs (244 random bits) without needing pgcrypto.
  secret text not null default ('whsec_' || encode(decode(
    replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64')),
  event_types public.webhook_event_type[] not null default enum_range(null::public.webhook_event_type)
    constraint webhook_endpoints_event_types_given check (cardinality(event_types) > 0),
  enabled boolean not null default true,
  description text constraint webhook_endpoints_description_length check (length(description) <= 500),
  disabled_reason text,             -- why the pipeline turned it off, e.g. HTTP 410
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.webhook_endpoints is 'Where an owner wants to hear about their videos.';
comment on column public.webhook_endpoints.secret is 'Standard Webhooks signing secret; service role only.';
create index webhook_endpoints_owner on public.webhook_endpoints (owner_id);

create table public.webhook_messages (
  id text primary key,              -- the webhook-id header: msg_<job>_<type>[_r<retries>]
  owner_id uuid references auth.users (id) on delete cascade,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  event_type public.webhook_event_type not null,
  payload jsonb not null,           -- {type, timestamp, data}: the body every endpoint receives
  created_at timestamptz not null default now()
);
comment on table public.webhook_messages is 'One per job event announced to its owner; the webhook body.';
create index webhook_messages_job on public.webhook_messages (job_id);

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  message_id text not null references public.webhook_messages (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  status public.webhook_delivery_status not null default 'pending',
  attempts integer not null default 0,  -- HTTP attempts made, replays included
  next_attempt_at timestamptz not null default now(),
  -- While sending: the outbox event whose attempt is in flight and which of the carrier's
  -- deliveries of that event (its `attempts` then), together the claim's token; and when the claim
  -- ends. notify answers its carrier before it sends, so the claim is the delivery's own: a sender
  -- that stops mid-send leaves it to run out, and the sweeper counts the attempt and sends again.
  sending_event bigint,
  sending_round integer,
  sending_until timestamptz,
  last_status_code integer,
  last_error text,
  replays integer not null default 0,
  delivered_at timestamptz,
  finished_at timestamptz,              -- delivered, failed for good, or cancelled
  created_at timestamptz not null default now(),
  unique (message_id, endpoint_id),
  constraint webhook_deliveries_sending_claim
    check ((status = 'sending') = (sending_event is not null) and (sending_event is null) = (sending_round is null)
           and (sending_event is null) = (sending_until is null))
);
comment on table public.webhook_deliveries is 'One message on its way to one endpoint, with its retry state.';
create index webhook_deliveries_endpoint on public.webhook_deliveries (endpoint_id);
create index webhook_deliveries_job on public.webhook_deliveries (job_id);
create index webhook_deliveries_open on public.webhook_deliveries (next_attempt_at) where finished_at is null;
-- Who is sending now (one at a time per endpoint, a few per owner), and who waits for them.
create index webhook_deliveries_sending_endpoint on public.webhook_deliveries (endpoint_id) where status = 'sending';
create index webhook_deliveries_sending_owner on public.webhook_deliveries (owner_id) where status = 'sending';
create index webhook_deliveries_owner_open on public.webhook_deliveries (owner_id, next_attempt_at)
  where finished_at is null;

create table public.webhook_attempts (
  id bigint generated always as identity primary key,
  delivery_id uuid not null references public.webhook_deliveries (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid,
  event_type public.webhook_event_type not null,
  message_id text not null,
  attempt integer not null,
  status_code integer,
  error text,
  latency_ms integer,
  response_body text,               -- the first 500 characters
  created_at timestamptz not null default now()
);
comment on table public.webhook_attempts is 'Every HTTP attempt to deliver a message to an endpoint.';
create index webhook_attempts_delivery on public.webhook_attempts (delivery_id);
create index webhook_attempts_endpoint on public.webhook_attempts (endpoint_id, created_at);
create index webhook_attempts_job on public.webhook_attempts (job_id);

-- What owners may ask of the pipeline themselves -------------------------------------------------
-- One row, which operators change with an update: how often an owner may retry a failed job
-- (retry_job) in all, and in an hour across their jobs. Each retry runs ingest again and
-- announces again.
create table public.owner_limits (
  singleton boolean primary key default true constraint one_row check (singleton),
  retries_per_job integer not null default 3 check (retries_per_job >= 0),
  retries_per_hour integer not null default 10 check (retries_per_hour >= 0),
  updated_at timestamptz not null default now()
);
comment on table public.owner_limits is 'How often owners may retry their failed jobs (retry_job). One row.';
insert into public.owner_limits default values;

create table public.owner_retries (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid not null,
  requested_at timestamptz not null default now()
);
comment on table public.owner_retries is 'Every retry an owner asked for (retry_job), counted against owner_limits.';
create index owner_retries_owner on public.owner_retries (owner_id, requested_at);
create index owner_retries_job on public.owner_retries (job_id);
