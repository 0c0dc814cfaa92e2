-- vidpipe baseline: the schema of supabase/schemas/ as one migration, then the platform steps.
-- Later changes: edit supabase/schemas/ and add a migration that makes the same change;
-- tests/integration/test_schema_catalog.py fails until the two agree.

-- vidpipe schema, part 1 of 7: types. Read the files in order (config.toml lists them):
-- types → tables → state machine → events → customer webhooks → sweeper → security.
-- Python mirrors every enum here in shared/domain.py; a test keeps each pair equal.

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
  'truncated',          -- the upload was cut short: no MP4 index, or the media data stops early
  'bad_dimensions',     -- a frame size no decoder can allocate, none, or over VIDPIPE_MAX_VIDEO_DIMENSION
  'undecodable',        -- the first video frame does not decode
  'media_error',        -- ffmpeg failed on a file that probed fine
  'event_rejected',     -- a function refused the job's event (4xx): a misconfiguration
  'retries_exhausted',  -- a transient failure, a lost worker or an unreachable function outlasted the attempts
  'internal_error'      -- a bug: the function's log has the traceback
);
comment on type public.failure_reason is 'Why a job failed: a stable code, documented in README.md.';

create type public.webhook_event_type as enum (
  'video.ingested',   -- ingest accepted the upload: the job is queued
  'video.processed',  -- the renditions are stored
  'video.ready',      -- the metadata document is written
  'video.failed'      -- the job failed; data.reason says why
);
comment on type public.webhook_event_type is 'The events announced to customers'' webhook endpoints.';

create type public.delivery_status as enum (
  'pending',    -- waiting for its next attempt (next_attempt_at)
  'sending',    -- a notify worker holds it for one attempt
  'delivered',  -- the endpoint answered 2xx
  'failed',     -- the retry schedule is spent, the endpoint answered 410, or notify refused the event
  'cancelled'   -- the endpoint was turned off before the delivery finished
);
comment on type public.delivery_status is 'Where one message stands on its way to one endpoint.';

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
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint lease_complete check ((lease_owner is null) = (lease_expires_at is null)),
  constraint leased_iff_running check ((lease_owner is not null) = (status in ('processing', 'describing'))),
  constraint failed_has_reason check ((status = 'failed') = (reason_code is not null)),
  constraint finished_iff_terminal check ((finished_at is not null) = (status in ('ready', 'failed'))),
  constraint attempts_in_range check (attempts >= 0 and max_attempts >= 1)
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
create index event_outbox_pending_record on public.event_outbox ((payload -> 'record' ->> 'id'))
  where delivered_at is null and dead_at is null;

create table public.event_receipts (
  message_id text primary key,      -- the webhook-id of an event a function handled
  function public.pipeline_function not null,
  received_at timestamptz not null default now()
);
comment on table public.event_receipts is
  'Events the functions handled in the last ten minutes, to refuse replays; older signatures no longer verify.';
create index event_receipts_received_at on public.event_receipts (received_at);

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
  description text,
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
  status public.delivery_status not null default 'pending',
  attempts integer not null default 0,  -- HTTP attempts made, replays included
  next_attempt_at timestamptz not null default now(),
  lease_owner text,
  lease_expires_at timestamptz,
  last_status_code integer,
  last_error text,
  replays integer not null default 0,
  delivered_at timestamptz,
  finished_at timestamptz,              -- delivered, failed for good, or cancelled
  created_at timestamptz not null default now(),
  unique (message_id, endpoint_id)
);
comment on table public.webhook_deliveries is 'One message on its way to one endpoint, with its retry state.';
create index webhook_deliveries_endpoint on public.webhook_deliveries (endpoint_id);
create index webhook_deliveries_job on public.webhook_deliveries (job_id);
create index webhook_deliveries_open on public.webhook_deliveries (next_attempt_at) where finished_at is null;

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

-- vidpipe schema, part 3 of 7: the job state machine. Functions call these SQL functions and
-- never write `status` themselves; every status change goes through transition_job, which also
-- writes its history row, the event for the next step and the announcement to the owner.
--
-- Custom SQLSTATEs, mapped to domain exceptions in shared/adapters/postgres.py:
--   VP404 not found   VP409 busy: leased elsewhere or not due yet (retry later)
--   VP410 not applicable now (the job moved on: a duplicate or late event)
--   VP412 lease lost: the caller no longer holds the step   VP422 illegal transition
-- Every time-dependent function takes p_now (default now()), so tests drive time instead of sleeping.

-- Legal transitions ---------------------------------------------------------------------------
create view public.job_transitions with (security_invoker = true) as
select t.from_status::public.job_status, t.to_status::public.job_status
  from (values
    ('queued', 'processing'),      -- process claims
    ('queued', 'failed'),          -- its event died (settle_dead_event)
    ('processing', 'processed'),   -- process completes
    ('processing', 'queued'),      -- process failed transiently or its lease expired: retry
    ('processing', 'failed'),      -- permanent failure or attempts exhausted
    ('processed', 'describing'),   -- generate_metadata claims
    ('processed', 'failed'),       -- its event died
    ('describing', 'ready'),       -- generate_metadata completes
    ('describing', 'processed'),   -- generate_metadata retry
    ('describing', 'failed'),
    ('failed', 'queued'),          -- requeue at the process step (or a re-ingested upload passed)
    ('failed', 'processed')        -- requeue at the generate_metadata step
  ) as t (from_status, to_status);
comment on view public.job_transitions is 'Legal status changes; any other change raises VP422.';

-- Checks every write of a job: a legal transition, and updated_at/finished_at kept true. The
-- functions pass p_now and set updated_at themselves; a write that leaves it alone gets now(), but
-- updated_at never moves back, so a caller's later clock is kept.
create function public.guard_job() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    if new.status not in ('queued', 'failed') then
      raise exception 'a job starts queued or failed, not %', new.status using errcode = 'VP422';
    end if;
  else
    if new.status is distinct from old.status and not exists (
      select from public.job_transitions t where t.from_status = old.status and t.to_status = new.status
    ) then
      raise exception 'illegal job transition % -> % for job %', old.status, new.status, new.id
        using errcode = 'VP422';
    end if;
    if new.updated_at is not distinct from old.updated_at then
      new.updated_at := greatest(now(), old.updated_at);
    end if;
  end if;
  new.finished_at := case when new.status in ('ready', 'failed') then coalesce(new.finished_at, new.updated_at) end;
  return new;
end
$$;

create trigger processing_jobs_guard before insert or update on public.processing_jobs
  for each row execute function public.guard_job();

-- Helpers -------------------------------------------------------------------------------------
-- The step a status belongs to, the status a step waits in, the status it holds while leased.
create function public.step_of(p_status public.job_status)
returns public.job_step language sql immutable set search_path = '' as $$
  select case when p_status in ('queued', 'processing') then 'process'::public.job_step
              when p_status in ('processed', 'describing') then 'generate_metadata'::public.job_step end
$$;

create function public.step_waiting_status(p_step public.job_step)
returns public.job_status language sql immutable set search_path = '' as $$
  select case p_step when 'process' then 'queued'::public.job_status
                     when 'generate_metadata' then 'processed'::public.job_status end
$$;

create function public.step_running_status(p_step public.job_step)
returns public.job_status language sql immutable set search_path = '' as $$
  select case p_step when 'process' then 'processing'::public.job_status
                     when 'generate_metadata' then 'describing'::public.job_status end
$$;

-- Exponential backoff with ±25 % jitter. The base is a database setting so a test stack can
-- shorten it: `alter database … set vidpipe.retry_base_seconds = 1`.
create function public.retry_backoff(p_attempt integer)
returns interval language sql volatile set search_path = '' as $$
  select make_interval(secs =>
    least(600, coalesce(nullif(current_setting('vidpipe.retry_base_seconds', true), '')::numeric, 10)
               * power(2, greatest(p_attempt - 1, 0)))
    * (0.75 + random() * 0.5))
$$;

create function public.lock_job(p_job uuid)
returns public.processing_jobs language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  select * into j from public.processing_jobs where id = p_job for update;
  if not found then
    raise exception 'job % not found', p_job using errcode = 'VP404';
  end if;
  return j;
end
$$;

-- What follows a change of job o into n (o is null for a new job): its history row, the event
-- for the function it now waits for, and the announcement to its owner.
create function public.job_changed(
  o public.processing_jobs, n public.processing_jobs, p_note text, p_now timestamptz
) returns void
language plpgsql set search_path = '' as $$
declare
  v_target public.pipeline_function := public.job_event_target(n.status);
begin
  insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, reason_code, message, created_at)
  values (n.id, n.owner_id, o.status, n.status, n.attempts, n.reason_code, p_note, p_now);
  if v_target is not null then
    perform public.enqueue_event(v_target, case when o is null then 'INSERT' else 'UPDATE' end, 'public',
                                 'processing_jobs', to_jsonb(n), case when o is not null then to_jsonb(o) end,
                                 n.run_after, p_now);
  end if;
  if n.status in ('queued', 'processed', 'ready', 'failed') then
    perform public.announce(n, public.announcement_type(n.status), p_now);
  end if;
end
$$;

-- The one transition ---------------------------------------------------------------------------
-- Moves job p_job to p_to and sets what goes with it:
--   a claim (to processing/describing) counts an attempt and takes the lease for p_worker;
--   a retry (running → waiting) waits a backoff; any other change starts its step afresh;
--   failed carries p_reason and the step that failed; p_message becomes last_error.
create function public.transition_job(
  p_job uuid, p_to public.job_status, p_now timestamptz,
  p_reason public.failure_reason default null, p_message text default null, p_note text default null,
  p_worker text default null, p_lease_seconds integer default null
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  o public.processing_jobs := public.lock_job(p_job);
  n public.processing_jobs;
  v_step public.job_step := public.step_of(o.status);
  v_claim boolean := p_to in ('processing', 'describing');
  v_retry boolean := coalesce(o.status = public.step_running_status(v_step)
                              and p_to = public.step_waiting_status(v_step), false);
begin
  if v_claim and (p_worker is null or p_lease_seconds is null) then
    raise exception 'a claim needs a worker and a lease' using errcode = '22023';
  end if;
  if (p_to = 'failed') <> (p_reason is not null) then
    raise exception 'a reason goes with failed, and only with failed' using errcode = '22023';
  end if;
  update public.processing_jobs
     set status = p_to,
         attempts = case when v_claim then attempts + 1 when v_retry then attempts else 0 end,
         lease_owner = case when v_claim then p_worker end,
         lease_expires_at = case when v_claim then p_now + make_interval(secs => p_lease_seconds) end,
         run_after = case when v_claim then run_after
                          when v_retry then p_now + public.retry_backoff(attempts) else p_now end,
         reason_code = p_reason,
         failed_step = case when p_to = 'failed' then coalesce(v_step, failed_step) end,
         last_error = coalesce(p_message, last_error),
         retry_requested_at = null,
         updated_at = p_now,
         finished_at = case when p_to = o.status then finished_at end
   where id = p_job
  returning * into n;
  perform public.job_changed(o, n, coalesce(p_note, p_message), p_now);
  return n;
end
$$;

-- Creating jobs (ingest) ----------------------------------------------------------------------
-- Idempotent on the storage object: a second event for the same upload returns the same job.
-- A bad upload (p_reason given) still gets a video and a job, born failed, so it is announced.
create function public.create_job(
  p_object_id uuid, p_owner uuid, p_bucket text, p_path text, p_size bigint, p_content_type text,
  p_max_attempts integer default 3, p_reason public.failure_reason default null, p_message text default null,
  p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  v_video uuid;
  j public.processing_jobs;
begin
  insert into public.videos (object_id, owner_id, bucket, path, size_bytes, content_type, created_at, updated_at)
  values (p_object_id, p_owner, p_bucket, p_path, p_size, p_content_type, p_now, p_now)
  on conflict (object_id) do nothing
  returning id into v_video;
  if v_video is null then
    select pj.* into j from public.processing_jobs pj
      join public.videos v on v.id = pj.video_id where v.object_id = p_object_id;
    return j;
  end if;
  insert into public.processing_jobs (video_id, owner_id, status, max_attempts, reason_code, last_error, failed_step,
                                      run_after, created_at, updated_at)
  values (v_video, p_owner, case when p_reason is null then 'queued' else 'failed' end::public.job_status,
          p_max_attempts, p_reason, p_message, case when p_reason is not null then 'ingest'::public.job_step end,
          p_now, p_now, p_now)
  returning * into j;
  perform public.job_changed(null, j, p_message, p_now);
  return j;
end
$$;

-- Steps ---------------------------------------------------------------------------------------
-- Compare-and-set: only from the step's waiting status, only when the retry is due and attempts
-- remain. The attempt is counted at claim time, so a worker that dies still spends one.
create function public.claim_step(
  p_job uuid, p_step public.job_step, p_worker text, p_lease_seconds integer, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.lock_job(p_job);
begin
  if j.status = public.step_running_status(p_step) then
    raise exception 'step % of job % is leased by % until %', p_step, p_job, j.lease_owner, j.lease_expires_at
      using errcode = 'VP409';
  end if;
  if j.status is distinct from public.step_waiting_status(p_step) then
    raise exception 'step % does not apply to job % in status %', p_step, p_job, j.status using errcode = 'VP410';
  end if;
  if j.run_after > p_now then
    raise exception 'step % of job % is not due before %', p_step, p_job, j.run_after using errcode = 'VP409';
  end if;
  if j.attempts >= j.max_attempts then
    raise exception 'step % of job % has used its % attempts', p_step, p_job, j.max_attempts using errcode = 'VP410';
  end if;
  return public.transition_job(p_job, public.step_running_status(p_step), p_now,
                               p_worker => p_worker, p_lease_seconds => p_lease_seconds);
end
$$;

-- The job as its lease holder sees it; VP412 when p_worker no longer holds p_step.
create function public.held_job(p_job uuid, p_step public.job_step, p_worker text)
returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.lock_job(p_job);
begin
  if j.lease_owner is distinct from p_worker or j.status is distinct from public.step_running_status(p_step) then
    raise exception 'worker % no longer holds step % of job %', p_worker, p_step, p_job using errcode = 'VP412';
  end if;
  return j;
end
$$;

-- Extends the caller's lease to p_lease_seconds from p_now; VP412 when the caller lost it.
create function public.renew_lease(
  p_job uuid, p_worker text, p_lease_seconds integer, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.lock_job(p_job);
begin
  if j.lease_owner is distinct from p_worker then
    raise exception 'worker % no longer holds the lease on job %', p_worker, p_job using errcode = 'VP412';
  end if;
  update public.processing_jobs
     set lease_expires_at = greatest(lease_expires_at, p_now + make_interval(secs => p_lease_seconds)),
         updated_at = p_now
   where id = p_job
  returning * into j;
  return j;
end
$$;

-- One way to record a step's files, in the transaction that completes the step. A rerun
-- replaces a kind's row: the files were overwritten at the same paths.
create function public.record_artifacts(p_video uuid, p_owner uuid, p_artifacts jsonb, p_now timestamptz)
returns void
language sql set search_path = '' as $$
  insert into public.video_artifacts (video_id, owner_id, kind, bucket, path, bytes, content_type, details, created_at)
  select p_video, p_owner, a.kind, a.bucket, a.path, a.bytes, a.content_type, coalesce(a.details, '{}'::jsonb), p_now
    from jsonb_to_recordset(coalesce(p_artifacts, '[]'::jsonb))
      as a(kind text, bucket text, path text, bytes bigint, content_type text, details jsonb)
  on conflict (video_id, kind) do update
    set bucket = excluded.bucket, path = excluded.path, bytes = excluded.bytes,
        content_type = excluded.content_type, details = excluded.details, created_at = p_now
$$;

-- Step results, each recorded in the transaction that completes the step.
create function public.complete_process(
  p_job uuid, p_worker text, p_probe jsonb, p_artifacts jsonb, p_analysis jsonb, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, 'process', p_worker);
begin
  update public.videos set probe = p_probe, analysis = p_analysis, updated_at = p_now where id = j.video_id;
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  return public.transition_job(p_job, 'processed', p_now);
end
$$;

create function public.complete_generate_metadata(
  p_job uuid, p_worker text, p_schema_version integer, p_document jsonb,
  p_artifacts jsonb default '[]'::jsonb, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, 'generate_metadata', p_worker);
begin
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  insert into public.video_metadata (video_id, owner_id, schema_version, document, created_at)
  values (j.video_id, j.owner_id, p_schema_version, p_document, p_now)
  on conflict (video_id) do update
    set schema_version = excluded.schema_version, document = excluded.document, created_at = excluded.created_at;
  return public.transition_job(p_job, 'ready', p_now);
end
$$;

-- A retryable failure goes back to the waiting status after a backoff while attempts remain;
-- otherwise the job ends failed with the reason (retries_exhausted for a retryable cause).
create function public.fail_step(
  p_job uuid, p_step public.job_step, p_worker text, p_reason public.failure_reason, p_message text,
  p_retryable boolean, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, p_step, p_worker);
begin
  if p_retryable and j.attempts < j.max_attempts then
    return public.transition_job(p_job, public.step_waiting_status(p_step), p_now, p_message => p_message);
  end if;
  return public.transition_job(p_job, 'failed', p_now,
                               case when p_retryable then 'retries_exhausted' else p_reason end, p_message);
end
$$;

-- Requeue -------------------------------------------------------------------------------------
-- Puts a failed job back at the step that failed, with fresh attempts; its history stays in
-- job_events. A job that failed at ingest has its upload checked again: the ingest event is
-- emitted once more and ingest settles it (finish_reingest).
create function public.requeue_job(p_job uuid, p_now timestamptz default now())
returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.lock_job(p_job);
  obj storage.objects;
  v_step public.job_step := coalesce(j.failed_step, 'process');
begin
  if j.status <> 'failed' then
    raise exception 'job % is %, not failed: nothing to retry', p_job, j.status using errcode = 'VP410';
  end if;
  if j.retry_requested_at is not null then
    raise exception 'job % is being checked again; try again shortly', p_job using errcode = 'VP409';
  end if;
  update public.processing_jobs set retries = retries + 1, updated_at = p_now where id = p_job returning * into j;
  if v_step <> 'ingest' then
    return public.transition_job(p_job, public.step_waiting_status(v_step), p_now,
                                 p_note => format('retry requested at step %s', v_step));
  end if;
  select so.* into obj from storage.objects so join public.videos v on v.object_id = so.id where v.id = j.video_id;
  if not found then
    raise exception 'the upload of job % is no longer in storage', p_job using errcode = 'VP404';
  end if;
  update public.processing_jobs set retry_requested_at = p_now where id = p_job returning * into j;
  insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, reason_code, message, created_at)
  values (j.id, j.owner_id, 'failed', 'failed', 0, j.reason_code, 'retry requested: checking the upload again', p_now);
  perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(obj), null, p_now, p_now);
  return j;
end
$$;

-- Ingest's verdict on a requeued upload: queued when it now passes (p_reason null), otherwise
-- failed again with the new reason; announced again either way.
create function public.finish_reingest(
  p_job uuid, p_owner uuid, p_size bigint, p_reason public.failure_reason, p_message text,
  p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.lock_job(p_job);
begin
  if j.status <> 'failed' or j.retry_requested_at is null then
    raise exception 'job % has no ingest retry pending', p_job using errcode = 'VP410';
  end if;
  if p_reason is not null then
    return public.transition_job(p_job, 'failed', p_now, p_reason, p_message);
  end if;
  update public.videos set owner_id = p_owner, size_bytes = p_size, updated_at = p_now where id = j.video_id;
  update public.processing_jobs set owner_id = p_owner, updated_at = p_now where id = p_job;
  return public.transition_job(p_job, 'queued', p_now, p_note => 'the upload passed its checks on retry');
end
$$;

-- vidpipe schema, part 4 of 7: events between the functions. Each change that hands work to a
-- function writes an outbox row in its own transaction, shaped like a Supabase Database Webhook
-- body. A dispatcher (locally) or pg_net + pg_cron (hosted) delivers it; an event that cannot be
-- delivered settles its work, so nothing waits for ever.

-- Writing events ------------------------------------------------------------------------------
create function public.enqueue_event(
  p_target public.pipeline_function, p_type text, p_schema text, p_table text, p_record jsonb, p_old_record jsonb,
  p_available_at timestamptz, p_now timestamptz
) returns bigint
language plpgsql set search_path = '' as $$
declare
  v_id bigint;
begin
  insert into public.event_outbox (target, payload, available_at, created_at)
  values (p_target,
          jsonb_build_object('type', p_type, 'table', p_table, 'schema', p_schema,
                             'record', p_record, 'old_record', p_old_record),
          p_available_at, p_now)
  returning id into v_id;
  perform pg_notify('vidpipe_outbox', p_target::text);
  return v_id;
end
$$;

-- The function a job waits for in a status (null: none, it is held or finished).
create function public.job_event_target(p_status public.job_status)
returns public.pipeline_function language sql immutable set search_path = '' as $$
  select case p_status when 'queued' then 'process'::public.pipeline_function
                       when 'processed' then 'generate_metadata'::public.pipeline_function end
$$;

-- Uploads into an ingest bucket start the pipeline. Security definer: the storage service's role
-- performs the insert and has no rights on our tables. The trigger itself is created by the
-- migration (a schema diff does not reach into the storage schema).
create function public.on_storage_object_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from public.ingest_buckets b where b.bucket_id = new.bucket_id) then
    perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(new), null, now(), now());
  end if;
  return null;
end
$$;

-- Delivering events ---------------------------------------------------------------------------
-- Claims due events; each stays invisible to other dispatchers for p_visibility_seconds, so an
-- event whose dispatcher died becomes due again by itself.
create function public.claim_outbox(p_limit integer, p_visibility_seconds integer, p_now timestamptz default now())
returns setof public.event_outbox
language sql set search_path = '' as $$
  with due as (
    select id from public.event_outbox
     where delivered_at is null and dead_at is null and available_at <= p_now
     order by available_at, id
     for update skip locked
     limit p_limit
  )
  update public.event_outbox o
     set attempts = o.attempts + 1, available_at = p_now + make_interval(secs => p_visibility_seconds)
    from due where o.id = due.id
  returning o.*
$$;

create function public.ack_outbox(p_id bigint, p_now timestamptz default now())
returns void language sql set search_path = '' as $$
  update public.event_outbox set delivered_at = p_now where id = p_id and delivered_at is null
$$;

-- A failed delivery is retried with backoff; after p_max_attempts (or when p_permanent, for a 4xx
-- answer) the event is dead and the work it carried is settled.
create function public.retry_outbox(
  p_id bigint, p_error text, p_max_attempts integer, p_permanent boolean default false,
  p_now timestamptz default now()
) returns public.event_outbox
language plpgsql set search_path = '' as $$
declare
  e public.event_outbox;
begin
  update public.event_outbox
     set last_error = left(p_error, 2000),
         dead_at = case when p_permanent or attempts >= p_max_attempts then p_now end,
         available_at = case when p_permanent or attempts >= p_max_attempts then available_at
                             else p_now + public.retry_backoff(attempts) end
   where id = p_id and delivered_at is null
  returning * into e;
  if e.dead_at is not null then
    perform public.settle_dead_event(e, p_permanent, p_now);
  end if;
  return e;
end
$$;

-- The work of a dead event ends visibly: an upload becomes a failed job, a job waiting for a step
-- fails, a webhook delivery fails. The reason says which: event_rejected for a 4xx answer,
-- retries_exhausted otherwise.
create function public.settle_dead_event(e public.event_outbox, p_permanent boolean, p_now timestamptz)
returns void
language plpgsql set search_path = '' as $$
declare
  v_reason public.failure_reason := case when p_permanent then 'event_rejected' else 'retries_exhausted' end;
  v_message text := case when p_permanent
    then format('the %s function refused the event: %s', e.target, coalesce(e.last_error, 'no detail'))
    else format('the %s function could not be reached after %s deliveries: %s', e.target, e.attempts,
                coalesce(e.last_error, 'no detail')) end;
  v_id uuid;
  o record;
  j public.processing_jobs;
begin
  if coalesce(e.payload -> 'record' ->> 'id', '') !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
    return;
  end if;
  v_id := (e.payload -> 'record' ->> 'id')::uuid;
  if e.payload ->> 'table' = 'webhook_deliveries' then
    perform public.settle_dead_delivery(v_id, coalesce(e.last_error, 'no detail'), p_now);
  elsif e.target = 'ingest' then
    select so.id, so.bucket_id, so.name, so.metadata, u.id as owner into o
      from storage.objects so left join auth.users u on u.id = so.owner
     where so.id = v_id;
    if found then
      perform public.create_job(
        o.id, o.owner, o.bucket_id, o.name,
        case when o.metadata ->> 'size' ~ '^[0-9]{1,18}$' then (o.metadata ->> 'size')::bigint end,
        o.metadata ->> 'mimetype', p_reason => v_reason, p_message => v_message, p_now => p_now);
    end if;
  else
    select * into j from public.processing_jobs where id = v_id for update;
    -- gone, or moved on (a worker holding it is the lease's business)
    if found and j.status = public.step_waiting_status(e.target::text::public.job_step) then
      perform public.transition_job(j.id, 'failed', p_now, v_reason, v_message);
    end if;
  end if;
end
$$;

-- vidpipe schema, part 5 of 7: customer webhooks, delivered like Svix and Stripe do. Each job
-- event becomes one message (its id is the webhook-id, stable across retries); each message goes
-- to every enabled endpoint of the owner that wants its type as one delivery with its own retry
-- schedule; every HTTP attempt is logged. It is all written in the transaction of the status
-- change, and every attempt is an outbox event for `notify`, so nothing is lost when a process dies.

-- Endpoints, managed by owners over the API and by operators with the service role -------------
-- Who is calling: an owner signed in through the API (auth.uid()), or the service role acting for
-- p_owner. An owner may act only for themself.
create function public.acting_owner(p_owner uuid) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_uid uuid := auth.uid();
begin
  if v_uid is not null and p_owner is not null and p_owner <> v_uid then
    raise exception 'an owner may manage only their own endpoints' using errcode = '42501';
  end if;
  if coalesce(v_uid, p_owner) is null then
    raise exception 'no owner: sign in, or name the owner as the service role' using errcode = '22023';
  end if;
  return coalesce(v_uid, p_owner);
end
$$;

-- Registers an endpoint and returns its signing secret: the only time an owner sees it (the
-- column is readable by the service role alone). Event types: all of them unless named; an
-- unknown one raises 22P02.
create function public.create_webhook_endpoint(
  p_url text, p_event_types text[] default null, p_description text default null,
  p_owner uuid default null
) returns table (id uuid, secret text)
language plpgsql security definer set search_path = '' as $$
declare
  v_owner uuid := public.acting_owner(p_owner);
begin
  return query
    insert into public.webhook_endpoints as e (owner_id, url, event_types, description)
    values (v_owner, p_url, coalesce(p_event_types::public.webhook_event_type[], enum_range(null::public.webhook_event_type)),
            p_description)
    returning e.id, e.secret;
end
$$;

create function public.delete_webhook_endpoint(p_id uuid, p_owner uuid default null)
returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  delete from public.webhook_endpoints where id = p_id and owner_id = public.acting_owner(p_owner);
  return found;
end
$$;

-- Turning an endpoint back on clears the reason the pipeline turned it off.
create function public.set_webhook_endpoint_enabled(
  p_id uuid, p_enabled boolean, p_owner uuid default null, p_now timestamptz default now()
) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  update public.webhook_endpoints
     set enabled = p_enabled, disabled_reason = case when p_enabled then null else disabled_reason end,
         updated_at = p_now
   where id = p_id and owner_id = public.acting_owner(p_owner);
  return found;
end
$$;

-- Announcing ----------------------------------------------------------------------------------
-- The event a job entering a status is: accepted by ingest (queued), processed, ready or failed.
create function public.announcement_type(p_status public.job_status)
returns public.webhook_event_type language sql immutable set search_path = '' as $$
  select case p_status when 'queued' then 'video.ingested'::public.webhook_event_type
                       when 'processed' then 'video.processed'::public.webhook_event_type
                       when 'ready' then 'video.ready'::public.webhook_event_type
                       when 'failed' then 'video.failed'::public.webhook_event_type end
$$;

-- The body: thin, with where the owner can read more (PostgREST paths under the project's URL).
create function public.webhook_payload(j public.processing_jobs, p_type public.webhook_event_type, p_now timestamptz)
returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'type', p_type,
    'timestamp', to_char(p_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'data', jsonb_strip_nulls(jsonb_build_object(
      'job_id', j.id, 'video_id', j.video_id, 'status', j.status,
      'reason', j.reason_code, 'message', case when j.status = 'failed' then j.last_error end,
      'failed_step', j.failed_step,
      'links', jsonb_build_object(
        'job', '/rest/v1/processing_jobs?id=eq.' || j.id,
        'metadata', '/rest/v1/video_metadata?video_id=eq.' || j.video_id,
        'artifacts', '/rest/v1/video_artifacts?video_id=eq.' || j.video_id))))
$$;

-- One message per event (the same event again in the same run of the job adds nothing), one
-- delivery per enabled endpoint that wants it, one outbox event per delivery.
create function public.announce(j public.processing_jobs, p_type public.webhook_event_type, p_now timestamptz)
returns text
language plpgsql set search_path = '' as $$
declare
  v_id text := 'msg_' || replace(j.id::text, '-', '') || '_' || replace(p_type::text, '.', '_')
               || case when j.retries > 0 then '_r' || j.retries else '' end;
  d public.webhook_deliveries;
begin
  if j.owner_id is null then
    return null;
  end if;
  insert into public.webhook_messages (id, owner_id, job_id, event_type, payload, created_at)
  values (v_id, j.owner_id, j.id, p_type, public.webhook_payload(j, p_type, p_now), p_now)
  on conflict (id) do nothing;
  if not found then
    return v_id;
  end if;
  for d in insert into public.webhook_deliveries (message_id, endpoint_id, job_id, owner_id, next_attempt_at,
                                                  created_at)
           select v_id, e.id, j.id, e.owner_id, p_now, p_now from public.webhook_endpoints e
            where e.owner_id = j.owner_id and e.enabled and p_type = any (e.event_types)
           returning * loop
    perform public.enqueue_event('notify', 'INSERT', 'public', 'webhook_deliveries', to_jsonb(d), null, p_now, p_now);
  end loop;
  return v_id;
end
$$;

-- Delivering ----------------------------------------------------------------------------------
-- Takes one delivery for one attempt: VP410 when it is finished (a duplicate event), VP409 while
-- another worker's lease is live, no row when its endpoint is turned off (it is cancelled).
-- Returns what the sender needs: the endpoint and the body.
create function public.claim_delivery(
  p_id uuid, p_worker text, p_lease_seconds integer, p_now timestamptz default now()
) returns table (delivery_id uuid, message_id text, url text, secret text, body jsonb, attempt integer)
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
begin
  select * into d from public.webhook_deliveries w where w.id = p_id for update;
  if not found then
    raise exception 'delivery % not found', p_id using errcode = 'VP404';
  end if;
  if d.finished_at is not null then
    raise exception 'delivery % is %', p_id, d.status using errcode = 'VP410';
  end if;
  if d.lease_owner is not null and d.lease_expires_at > p_now then
    raise exception 'delivery % is being sent by %', p_id, d.lease_owner using errcode = 'VP409';
  end if;
  if not exists (select 1 from public.webhook_endpoints e where e.id = d.endpoint_id and e.enabled) then
    update public.webhook_deliveries w
       set status = 'cancelled', finished_at = p_now, last_error = 'the endpoint is turned off'
     where w.id = p_id;
    return;  -- no row: nothing to send
  end if;
  update public.webhook_deliveries w
     set status = 'sending', lease_owner = p_worker, lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
   where w.id = p_id;
  return query
    select d.id, d.message_id, e.url, e.secret, m.payload, d.attempts + 1
      from public.webhook_endpoints e, public.webhook_messages m
     where e.id = d.endpoint_id and m.id = d.message_id;
end
$$;

-- Records one attempt and decides what follows, in one transaction: delivered on 2xx; on 410 the
-- endpoint is turned off and its open deliveries cancelled; otherwise the next attempt at
-- p_retry_at (the caller's schedule, Retry-After honoured), or failed when p_retry_at is null.
create function public.record_attempt(
  p_id uuid, p_worker text, p_status_code integer, p_error text, p_latency_ms integer, p_response_body text,
  p_retry_at timestamptz, p_now timestamptz default now()
) returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
  m public.webhook_messages;
  v_ok boolean := coalesce(p_status_code between 200 and 299, false);
  v_final boolean := v_ok or p_status_code = 410 or p_retry_at is null;
begin
  select * into d from public.webhook_deliveries w where w.id = p_id for update;
  if not found or d.lease_owner is distinct from p_worker then
    raise exception 'worker % no longer holds delivery %', p_worker, p_id using errcode = 'VP412';
  end if;
  select * into m from public.webhook_messages where id = d.message_id;
  insert into public.webhook_attempts (delivery_id, endpoint_id, job_id, owner_id, event_type, message_id, attempt,
                                       status_code, error, latency_ms, response_body, created_at)
  values (d.id, d.endpoint_id, m.job_id, d.owner_id, m.event_type, m.id, d.attempts + 1, p_status_code, p_error,
          p_latency_ms, left(p_response_body, 500), p_now);
  if p_status_code = 410 then
    update public.webhook_endpoints
       set enabled = false, disabled_reason = format('HTTP 410 Gone at %s', p_now), updated_at = p_now
     where id = d.endpoint_id;
    update public.webhook_deliveries
       set status = 'cancelled', finished_at = p_now, last_error = 'the endpoint answered 410 Gone'
     where endpoint_id = d.endpoint_id and finished_at is null and id <> d.id;
  end if;
  update public.webhook_deliveries w
     set attempts = w.attempts + 1, lease_owner = null, lease_expires_at = null,
         last_status_code = p_status_code, last_error = case when v_ok then null else p_error end,
         status = case when v_ok then 'delivered' when v_final then 'failed' else 'pending' end::public.delivery_status,
         delivered_at = case when v_ok then p_now end,
         finished_at = case when v_final then p_now end,
         next_attempt_at = case when v_final then w.next_attempt_at else p_retry_at end
   where w.id = p_id
  returning * into d;
  if d.status = 'pending' then
    perform public.enqueue_event('notify', 'UPDATE', 'public', 'webhook_deliveries', to_jsonb(d), null, p_retry_at,
                                 p_now);
  end if;
  return d;
end
$$;

-- Sends a delivery again from the start of its schedule (the same webhook-id: receivers that
-- already have it drop it). Any state but sending; the attempt log keeps the earlier attempts.
create function public.replay_delivery(p_id uuid, p_now timestamptz default now())
returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
begin
  select * into d from public.webhook_deliveries where id = p_id for update;
  if not found then
    raise exception 'delivery % not found', p_id using errcode = 'VP404';
  end if;
  if d.lease_owner is not null and d.lease_expires_at > p_now then
    raise exception 'delivery % is being sent right now', p_id using errcode = 'VP409';
  end if;
  update public.webhook_deliveries
     set status = 'pending', replays = replays + 1, attempts = 0, next_attempt_at = p_now, finished_at = null,
         delivered_at = null, lease_owner = null, lease_expires_at = null
   where id = p_id
  returning * into d;
  perform public.enqueue_event('notify', 'UPDATE', 'public', 'webhook_deliveries', to_jsonb(d), null, p_now, p_now);
  return d;
end
$$;

-- A delivery whose outbox event died (notify unreachable or refusing it) fails with that reason
-- instead of waiting for ever.
create function public.settle_dead_delivery(p_id uuid, p_message text, p_now timestamptz)
returns void
language sql set search_path = '' as $$
  update public.webhook_deliveries
     set status = 'failed', finished_at = p_now, lease_owner = null, lease_expires_at = null,
         last_error = format('the notify function could not take the delivery: %s', p_message)
   where id = p_id and finished_at is null
$$;

-- vidpipe schema, part 6 of 7: the sweeper. Run every few seconds (the dispatcher locally,
-- pg_cron on hosted Supabase); it never waits on a locked row. It rescues work whose worker died
-- or whose event was lost, and keeps the event tables small.
-- subject_id is a job id, or a storage object id for `ingest_reemitted`.
create function public.sweep(p_now timestamptz default now(), p_stale_seconds integer default 120)
returns table (subject_id uuid, action text)
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  obj storage.objects;
  v_step public.job_step;
begin
  -- 1. A held step whose lease expired: its worker died or hung. Retried while attempts remain.
  for j in select * from public.processing_jobs pj
            where pj.lease_expires_at < p_now for update skip locked loop
    v_step := public.step_of(j.status);
    if j.attempts < j.max_attempts then
      perform public.transition_job(j.id, public.step_waiting_status(v_step), p_now,
                                    p_message => format('%s stopped responding: lease expired', v_step));
      subject_id := j.id; action := 'requeued'; return next;
    else
      perform public.transition_job(j.id, 'failed', p_now, 'retries_exhausted',
                                    format('%s stopped responding on its last attempt', v_step));
      subject_id := j.id; action := 'failed'; return next;
    end if;
  end loop;

  -- 2. A job waiting for a step with no event on its way (acknowledged without effect, or never sent).
  for j in select * from public.processing_jobs pj
            where public.job_event_target(pj.status) is not null
              and pj.run_after <= p_now
              and pj.updated_at < p_now - make_interval(secs => p_stale_seconds)
              and not exists (
                select from public.event_outbox o
                 where o.delivered_at is null and o.dead_at is null and o.payload -> 'record' ->> 'id' = pj.id::text)
            for update skip locked loop
    update public.processing_jobs set updated_at = p_now where id = j.id returning * into j;
    perform public.enqueue_event(public.job_event_target(j.status), 'UPDATE', 'public', 'processing_jobs',
                                 to_jsonb(j), to_jsonb(j), p_now, p_now);
    subject_id := j.id; action := 'reemitted'; return next;
  end loop;

  -- 3. An upload into an ingest bucket that never became a video and has no event on its way. Only
  --    uploads made since the bucket joined the pipeline (joining does not ingest history) and in
  --    the last week, so each sweep reads a bounded slice of a large bucket.
  for obj in select so.* from storage.objects so
             join public.ingest_buckets b on b.bucket_id = so.bucket_id
            where so.created_at >= b.created_at
              and so.created_at > p_now - interval '7 days'
              and so.created_at < p_now - make_interval(secs => p_stale_seconds)
              and not exists (select from public.videos v where v.object_id = so.id)
              and not exists (
                select from public.event_outbox ev
                 where ev.delivered_at is null and ev.dead_at is null and ev.payload -> 'record' ->> 'id' = so.id::text)
            order by so.created_at
            limit 100 loop
    perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(obj), null, p_now, p_now);
    subject_id := obj.id; action := 'ingest_reemitted'; return next;
  end loop;

  -- 4. Housekeeping: receipts older than any signature that still verifies, and delivered events
  --    after a week (job_events keeps the history; dead events stay for an operator to read).
  delete from public.event_receipts where received_at < p_now - interval '10 minutes';
  delete from public.event_outbox where delivered_at < p_now - interval '7 days';
end
$$;

-- vidpipe schema, part 7 of 7: security. Row level security on every table: owners read their
-- own rows; anon reads nothing; only the service role (which bypasses RLS) and the state-machine
-- functions write. Supabase grants every privilege on `public` to anon and authenticated by
-- default, so this file takes back what they must not have.

-- Row level security ------------------------------------------------------------------------------
alter table public.ingest_buckets enable row level security;
alter table public.videos enable row level security;
alter table public.processing_jobs enable row level security;
alter table public.job_events enable row level security;
alter table public.video_artifacts enable row level security;
alter table public.video_metadata enable row level security;
alter table public.event_outbox enable row level security;
alter table public.event_receipts enable row level security;
alter table public.webhook_endpoints enable row level security;
alter table public.webhook_messages enable row level security;
alter table public.webhook_deliveries enable row level security;
alter table public.webhook_attempts enable row level security;

create policy owner_reads on public.videos for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.processing_jobs for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.job_events for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.video_artifacts for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.video_metadata for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_endpoints for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_messages for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_deliveries for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_attempts for select to authenticated
  using (owner_id = (select auth.uid()));

-- Table privileges ----------------------------------------------------------------------------------
-- The API roles write nothing; anon reads nothing; owners read through the policies above.
revoke insert, update, delete, truncate on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts, public.job_transitions
  from public, anon, authenticated;
revoke select on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts, public.job_transitions
  from anon;
-- Internal tables: no rows for signed-in users either.
revoke select on public.event_outbox, public.ingest_buckets, public.event_receipts from authenticated;
-- An endpoint's signing secret is for the service role only: owners see every other column.
revoke select on public.webhook_endpoints from authenticated;
grant select (id, owner_id, url, event_types, enabled, description, disabled_reason, created_at, updated_at)
  on public.webhook_endpoints to authenticated;
grant all on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts
  to service_role;
grant select on public.job_transitions to authenticated, service_role;

-- Uploads -------------------------------------------------------------------------------------------
-- Used by the storage policies the migration creates: a signed-in user writes into an ingest bucket
-- only under their own folder (<user id>/…); ingest checks the same again (path_not_owned).
create function public.is_ingest_bucket(p_bucket text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.ingest_buckets where bucket_id = p_bucket)
$$;

-- Function privileges --------------------------------------------------------------------------------
-- Postgres grants every new function to PUBLIC (and Supabase to anon and authenticated). The
-- pipeline's functions are for the service role; owners may manage their endpoints.
do $$
declare
  r record;
  v_for_owners text[] := array['acting_owner', 'create_webhook_endpoint', 'delete_webhook_endpoint',
                               'set_webhook_endpoint_enabled', 'is_ingest_bucket'];
begin
  for r in
    select p.oid::regprocedure as f, p.proname = any (v_for_owners) as for_owners from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname = any (v_for_owners || array[
         'guard_job', 'step_of', 'step_waiting_status', 'step_running_status', 'retry_backoff', 'lock_job',
         'job_changed', 'transition_job', 'create_job', 'claim_step', 'held_job', 'renew_lease', 'record_artifacts',
         'complete_process', 'complete_generate_metadata', 'fail_step', 'requeue_job', 'finish_reingest',
         'enqueue_event', 'job_event_target', 'on_storage_object_created', 'claim_outbox', 'ack_outbox',
         'retry_outbox', 'settle_dead_event', 'announcement_type', 'webhook_payload', 'announce', 'claim_delivery',
         'record_attempt', 'replay_delivery', 'settle_dead_delivery', 'sweep'])
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', r.f);
    execute format('grant execute on function %s to %s', r.f,
                   case when r.for_owners then 'authenticated, service_role' else 'service_role' end);
  end loop;
end
$$;

-- =============================================================================================
-- What a schema diff cannot express: steps on Supabase's own schemas and extensions, each
-- guarded so the migration applies to a plain Postgres as well as to a Supabase project.
-- =============================================================================================

-- Uploads into an ingest bucket start the pipeline. On hosted Supabase the migration role may
-- create a trigger on storage.objects but, not owning the table, may not replace or drop one.
do $$
begin
  if not exists (select from pg_trigger where tgname = 'vidpipe_object_created' and tgrelid = 'storage.objects'::regclass)
  then
    create trigger vidpipe_object_created after insert on storage.objects
      for each row execute function public.on_storage_object_created();
  end if;
end
$$;

-- A signed-in user uploads into an ingest bucket, and reads back, only under their own folder.
create policy vidpipe_owner_uploads on storage.objects for insert to authenticated
  with check (public.is_ingest_bucket(bucket_id) and split_part(name, '/', 1) = (select auth.uid())::text);
create policy vidpipe_owner_reads_uploads on storage.objects for select to authenticated
  using (public.is_ingest_bucket(bucket_id) and split_part(name, '/', 1) = (select auth.uid())::text);

-- The sweeper on hosted Supabase: where pg_cron exists (enable it under Database → Extensions
-- before the push), every 10 seconds; pg_cron before 1.5 knows no seconds, so every minute there.
do $$
declare
  v_version int[];
begin
  -- extversion looks like 1.6.4 or 1.4-1: compare major and minor only.
  select string_to_array(substring(extversion from '^[0-9]+\.[0-9]+'), '.')::int[] into v_version
    from pg_extension where extname = 'pg_cron';
  if v_version is null then
    raise notice 'pg_cron is not installed: run public.sweep() from the dispatcher instead';
    return;
  end if;
  perform cron.schedule('vidpipe-sweep', case when v_version >= array[1, 5] then '10 seconds' else '* * * * *' end,
                        'select count(*) from public.sweep()');
end
$$;

-- Job status on Supabase Realtime, where its publication exists: a UI subscribes to its jobs
-- (RLS still applies to what each subscriber receives).
do $$
begin
  if exists (select from pg_publication where pubname = 'supabase_realtime') then
    alter publication supabase_realtime add table public.processing_jobs;
  end if;
end
$$;
