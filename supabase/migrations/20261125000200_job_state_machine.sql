-- vidpipe: the job state machine. Functions call these SQL functions and never write `status`.
-- Custom SQLSTATEs, mapped to domain exceptions in shared/adapters/postgres.py:
--   VP404 job not found            VP409 step busy: leased elsewhere or not due yet (retry later)
--   VP410 step not applicable now (the job has moved on: a duplicate or late event)
--   VP412 lease lost: the caller no longer holds the step    VP422 illegal transition
-- Every time-dependent function takes p_now so tests drive time instead of sleeping.

-- Legal transitions ---------------------------------------------------------------------------
insert into public.job_transitions (from_status, to_status) values
  ('queued', 'processing'),      -- process claims
  ('queued', 'failed'),          -- given up before a claim (sweeper, cancel)
  ('processing', 'processed'),   -- process completes
  ('processing', 'queued'),      -- process failed transiently or its lease expired: retry
  ('processing', 'failed'),      -- permanent failure or retries exhausted
  ('processed', 'describing'),   -- generate_metadata claims
  ('processed', 'failed'),
  ('describing', 'ready'),       -- generate_metadata completes
  ('describing', 'processed'),   -- generate_metadata retry
  ('describing', 'failed'),
  ('failed', 'queued'),          -- requeue at the process step
  ('failed', 'processed')        -- requeue at the generate_metadata step
on conflict do nothing;

create or replace function public.guard_job_status() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    if new.status not in ('queued', 'failed') then
      raise exception 'a job starts queued or failed, not %', new.status using errcode = 'VP422';
    end if;
  elsif new.status is distinct from old.status and not exists (
    select from public.job_transitions t where t.from_status = old.status and t.to_status = new.status
  ) then
    raise exception 'illegal job transition % -> % for job %', old.status, new.status, new.id
      using errcode = 'VP422';
  end if;
  new.updated_at := now();
  new.finished_at := case when new.status in ('ready', 'failed')
                          then coalesce(new.finished_at, now()) end;
  return new;
end
$$;

create or replace trigger processing_jobs_guard_status
  before insert or update on public.processing_jobs
  for each row execute function public.guard_job_status();

-- Helpers -------------------------------------------------------------------------------------
-- The status a step waits in and the status it holds while leased (notify keeps ready/failed).
create or replace function public.step_waiting_status(p_step public.job_step)
returns public.job_status language sql immutable set search_path = '' as $$
  select case p_step when 'process' then 'queued'::public.job_status
                     when 'generate_metadata' then 'processed'::public.job_status end
$$;

create or replace function public.step_running_status(p_step public.job_step)
returns public.job_status language sql immutable set search_path = '' as $$
  select case p_step when 'process' then 'processing'::public.job_status
                     when 'generate_metadata' then 'describing'::public.job_status end
$$;

-- Exponential backoff with ±25 % jitter. The base is a database setting so a test stack can
-- shorten it: `alter database … set vidpipe.retry_base_seconds = 1`.
create or replace function public.retry_backoff(p_attempt integer)
returns interval language sql volatile set search_path = '' as $$
  select make_interval(secs =>
    least(600, coalesce(nullif(current_setting('vidpipe.retry_base_seconds', true), '')::numeric, 10)
               * power(2, greatest(p_attempt - 1, 0)))
    * (0.75 + random() * 0.5))
$$;

create or replace function public.lock_job(p_job uuid)
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

-- Creating jobs (ingest) ----------------------------------------------------------------------
-- Idempotent on the storage object: a second event for the same upload returns the same job.
create or replace function public.register_upload(
  p_object_id uuid, p_owner uuid, p_bucket text, p_path text, p_size bigint, p_content_type text,
  p_max_attempts integer default 3
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  v_video uuid;
  j public.processing_jobs;
begin
  insert into public.videos (object_id, owner_id, bucket, path, size_bytes, content_type)
  values (p_object_id, p_owner, p_bucket, p_path, p_size, p_content_type)
  on conflict (object_id) do nothing
  returning id into v_video;
  if v_video is null then
    select pj.* into j from public.processing_jobs pj
      join public.videos v on v.id = pj.video_id where v.object_id = p_object_id;
    return j;
  end if;
  insert into public.processing_jobs (video_id, owner_id, max_attempts)
  values (v_video, p_owner, p_max_attempts) returning * into j;
  return j;
end
$$;

-- A bad upload still gets a video and a job, born failed, so it is announced like any other.
create or replace function public.reject_upload(
  p_object_id uuid, p_owner uuid, p_bucket text, p_path text, p_size bigint, p_content_type text,
  p_reason text, p_message text
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  v_video uuid;
  j public.processing_jobs;
begin
  insert into public.videos (object_id, owner_id, bucket, path, size_bytes, content_type)
  values (p_object_id, p_owner, p_bucket, p_path, p_size, p_content_type)
  on conflict (object_id) do nothing
  returning id into v_video;
  if v_video is null then
    select pj.* into j from public.processing_jobs pj
      join public.videos v on v.id = pj.video_id where v.object_id = p_object_id;
    return j;
  end if;
  insert into public.processing_jobs (video_id, owner_id, status, reason_code, last_error, failed_step)
  values (v_video, p_owner, 'failed', p_reason, p_message, 'ingest') returning * into j;
  return j;
end
$$;

-- Claiming a step -----------------------------------------------------------------------------
-- Compare-and-set: only from the step's waiting status (notify: ready/failed not yet notified),
-- only when no live lease exists and the retry is due. The attempt is counted at claim time,
-- so a worker that dies still spends one.
create or replace function public.claim_step(
  p_job uuid, p_step public.job_step, p_worker text, p_lease_seconds integer,
  p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  v_applicable boolean;
begin
  if p_step = 'ingest' then
    raise exception 'ingest is not a leased step' using errcode = 'VP422';
  end if;
  j := public.lock_job(p_job);
  v_applicable := case when p_step = 'notify'
                       then j.status in ('ready', 'failed') and j.notified_at is null
                       else j.status in (public.step_waiting_status(p_step),
                                         public.step_running_status(p_step)) end;
  if not v_applicable then
    raise exception 'step % does not apply to job % in status %', p_step, p_job, j.status
      using errcode = 'VP410';
  end if;
  if j.lease_owner is not null then
    raise exception 'step % of job % is leased by % until %', p_step, p_job, j.lease_owner,
      j.lease_expires_at using errcode = 'VP409';
  end if;
  if j.run_after > p_now then
    raise exception 'step % of job % is not due before %', p_step, p_job, j.run_after
      using errcode = 'VP409';
  end if;
  if j.attempts >= j.max_attempts then
    raise exception 'step % of job % has used its % attempts', p_step, p_job, j.max_attempts
      using errcode = 'VP410';
  end if;
  update public.processing_jobs
     set status = coalesce(public.step_running_status(p_step), status),
         attempts = attempts + 1,
         lease_owner = p_worker,
         lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
   where id = p_job
  returning * into j;
  return j;
end
$$;

-- Ends a leased step successfully; raises VP412 unless the caller still holds it.
create or replace function public.finish_step(
  p_job uuid, p_step public.job_step, p_worker text, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.lock_job(p_job);
  if j.lease_owner is distinct from p_worker
     or (p_step = 'notify' and (j.status not in ('ready', 'failed') or j.notified_at is not null))
     or (p_step <> 'notify' and j.status is distinct from public.step_running_status(p_step)) then
    raise exception 'worker % no longer holds step % of job %', p_worker, p_step, p_job
      using errcode = 'VP412';
  end if;
  update public.processing_jobs
     set status = case p_step when 'process' then 'processed'::public.job_status
                              when 'generate_metadata' then 'ready'::public.job_status
                              else status end,
         attempts = 0,
         lease_owner = null,
         lease_expires_at = null,
         run_after = p_now,
         notified_at = case when p_step = 'notify' then p_now else notified_at end
   where id = p_job
  returning * into j;
  return j;
end
$$;

-- Step results, each recorded in the same transaction that completes the step.
drop function if exists public.complete_process(uuid, text, jsonb, jsonb, timestamptz);
create or replace function public.complete_process(
  p_job uuid, p_worker text, p_probe jsonb, p_artifacts jsonb, p_analysis jsonb,
  p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.finish_step(p_job, 'process', p_worker, p_now);
  update public.videos set probe = p_probe, analysis = p_analysis, updated_at = p_now where id = j.video_id;
  insert into public.video_artifacts (video_id, owner_id, kind, bucket, path, bytes, content_type, details)
  select j.video_id, j.owner_id, a.kind, a.bucket, a.path, a.bytes, a.content_type,
         coalesce(a.details, '{}'::jsonb)
    from jsonb_to_recordset(p_artifacts)
      as a(kind text, bucket text, path text, bytes bigint, content_type text, details jsonb)
  on conflict (video_id, kind) do update
    set bucket = excluded.bucket, path = excluded.path, bytes = excluded.bytes,
        content_type = excluded.content_type, details = excluded.details, created_at = p_now;
  return j;
end
$$;

create or replace function public.complete_generate_metadata(
  p_job uuid, p_worker text, p_schema_version integer, p_document jsonb,
  p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.finish_step(p_job, 'generate_metadata', p_worker, p_now);
  insert into public.video_metadata (video_id, owner_id, schema_version, document, created_at)
  values (j.video_id, j.owner_id, p_schema_version, p_document, p_now)
  on conflict (video_id) do update
    set schema_version = excluded.schema_version, document = excluded.document,
        created_at = excluded.created_at;
  return j;
end
$$;

create or replace function public.complete_notify(
  p_job uuid, p_worker text, p_now timestamptz default now()
) returns public.processing_jobs
language sql set search_path = '' as $$
  select * from public.finish_step(p_job, 'notify', p_worker, p_now)
$$;

-- Failing a step ------------------------------------------------------------------------------
-- Retryable failures go back to the waiting status after a backoff while attempts remain;
-- otherwise the job ends failed with the reason (retries_exhausted for a retryable cause).
create or replace function public.fail_step(
  p_job uuid, p_step public.job_step, p_worker text, p_reason text, p_message text,
  p_retryable boolean, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  v_retry boolean;
begin
  j := public.lock_job(p_job);
  if j.lease_owner is distinct from p_worker then
    raise exception 'worker % no longer holds step % of job %', p_worker, p_step, p_job
      using errcode = 'VP412';
  end if;
  v_retry := p_retryable and j.attempts < j.max_attempts;
  if p_step = 'notify' then
    update public.processing_jobs
       set lease_owner = null, lease_expires_at = null, last_error = p_message,
           run_after = case when v_retry then p_now + public.retry_backoff(j.attempts) else run_after end,
           notified_at = case when v_retry then null else p_now end
     where id = p_job
    returning * into j;
    if v_retry then
      perform public.emit_job_event(j, 'notify', j.run_after);
    end if;
    return j;
  end if;
  update public.processing_jobs
     set status = case when v_retry then public.step_waiting_status(p_step) else 'failed' end,
         lease_owner = null, lease_expires_at = null,
         last_error = p_message,
         run_after = case when v_retry then p_now + public.retry_backoff(j.attempts) else run_after end,
         reason_code = case when v_retry then null
                            when p_retryable then 'retries_exhausted' else p_reason end,
         failed_step = case when v_retry then null else p_step end,
         attempts = case when v_retry then attempts else 0 end
   where id = p_job
  returning * into j;
  return j;
end
$$;
