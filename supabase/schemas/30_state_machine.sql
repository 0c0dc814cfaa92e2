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

-- Exponential backoff with ±25 % jitter, for events and for a job's retries of a step alike; its
-- base is delivery_settings.backoff_base_seconds.
create function public.retry_backoff(p_attempt integer)
returns interval language sql volatile set search_path = '' as $$
  select make_interval(secs =>
    least(600, coalesce((select s.backoff_base_seconds from public.delivery_settings s), 10)
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
    perform public.enqueue_event(v_target, case when o is null then 'INSERT' else 'UPDATE' end, 'job',
                                 to_jsonb(n), case when o is not null then to_jsonb(o) end, n.run_after, p_now);
  end if;
  if n.status in ('queued', 'processed', 'ready', 'failed') then
    perform public.announce(n, public.announcement_type(n.status), p_now);
  end if;
  -- A video whose processing failed for good does not play from its source: the remux showed
  -- what the decode later refused (frames or a length the container hid). Its announcements
  -- said playable, then failed; a retry that passes makes it playable again.
  if n.status = 'failed' and n.failed_step = 'process' then
    delete from public.video_artifacts a where a.video_id = n.video_id and a.kind = 'source_hls';
    update public.videos set playable_at = null, updated_at = p_now where id = n.video_id;
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
         progress_stage = null, progress_done = null, progress_total = null, progress_unit = null,
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
-- remain. The attempt is counted at claim time, so a worker that dies still spends one. Each claim
-- holds its own token (the worker, then a random part, in lease_owner): renewals and completions
-- present it, so no run can complete another run's claim, even in the same process.
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
                               p_worker => p_worker || '/' || left(gen_random_uuid()::text, 8),
                               p_lease_seconds => p_lease_seconds);
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

-- How far the running step is, from its lease holder (a run that lost the lease says nothing):
-- on the job's row, for Realtime and the status command, and to the page's listeners. Best
-- effort: a report that does not arrive costs only a less current bar.
create function public.report_progress(
  p_job uuid, p_worker text, p_stage text, p_done double precision, p_total double precision, p_unit text,
  p_now timestamptz default now()
) returns void
language plpgsql set search_path = '' as $$
begin
  if p_total is null or p_total <= 0 then
    raise exception 'progress needs a total above 0' using errcode = '22023';
  end if;
  update public.processing_jobs
     set progress_stage = p_stage, progress_done = least(greatest(p_done, 0), p_total), progress_total = p_total,
         progress_unit = p_unit, updated_at = p_now
   where id = p_job and lease_owner = p_worker and status in ('processing', 'describing');
  if found then
    perform pg_notify('vidpipe_jobs', p_job::text);
  end if;
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
-- The video plays from now: said once (playable_at, and video.playable to the owner's endpoints),
-- with a history row so that watchers hear of it. Early in process for a web-ready source
-- (mark_playable), else when the encoded renditions are stored (complete_process).
create function public.became_playable(j public.processing_jobs, p_note text, p_now timestamptz)
returns void
language plpgsql set search_path = '' as $$
begin
  update public.videos set playable_at = p_now, updated_at = p_now where id = j.video_id and playable_at is null;
  if found then
    insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, message, created_at)
    values (j.id, j.owner_id, j.status, j.status, j.attempts, p_note, p_now);
    perform public.announce(j, 'video.playable', p_now);
  end if;
end
$$;

-- process stored the source packaged as HLS (no decode) while its encode goes on.
create function public.mark_playable(p_job uuid, p_worker text, p_artifacts jsonb, p_now timestamptz default now())
returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, 'process', p_worker);
begin
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  perform public.became_playable(j, 'playable: the source, packaged as HLS without decoding', p_now);
  return j;
end
$$;

create function public.complete_process(
  p_job uuid, p_worker text, p_probe jsonb, p_artifacts jsonb, p_analysis jsonb, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, 'process', p_worker);
begin
  update public.videos set probe = p_probe, analysis = p_analysis, updated_at = p_now where id = j.video_id;
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  if exists (select from public.video_artifacts a where a.video_id = j.video_id and a.kind in ('proxy', 'hls')) then
    perform public.became_playable(j, 'playable: the encoded renditions are stored', p_now);
  end if;
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
  perform public.enqueue_event('ingest', 'INSERT', 'storage_object', to_jsonb(obj), null, p_now, p_now);
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

-- An owner asks for their own failed job to be tried again (the results page's retry), as
-- requeue_job does for operators. Another owner's job does not exist for them (VP404). Each
-- retry runs ingest again and announces again, so owners are held to owner_limits (VP429).
create function public.retry_job(p_job uuid) returns public.processing_jobs
language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := auth.uid();
  v_now timestamptz := now();
  v_limits public.owner_limits;
  v_job_retries integer;
  v_last_hour integer;
  j public.processing_jobs;
begin
  if v_uid is null then
    raise exception 'sign in to retry a job' using errcode = '42501';
  end if;
  perform from public.processing_jobs where id = p_job and owner_id = v_uid;
  if not found then
    raise exception 'job % not found', p_job using errcode = 'VP404';
  end if;
  -- One owner's retries at a time, so that retries at once cannot pass the limits together.
  perform pg_advisory_xact_lock(hashtextextended('vidpipe.owner_retries:' || v_uid, 0));
  select * into strict v_limits from public.owner_limits;
  select count(*) filter (where r.job_id = p_job), count(*) filter (where r.requested_at > v_now - interval '1 hour')
    into v_job_retries, v_last_hour
    from public.owner_retries r where r.owner_id = v_uid;
  if v_job_retries >= v_limits.retries_per_job then
    raise exception 'job % was retried % times, the most an owner may', p_job, v_job_retries using errcode = 'VP429';
  end if;
  if v_last_hour >= v_limits.retries_per_hour then
    raise exception 'at most % retries an hour; try again later', v_limits.retries_per_hour using errcode = 'VP429';
  end if;
  j := public.requeue_job(p_job, v_now);  -- nothing to retry (VP410, VP409): nothing is counted
  insert into public.owner_retries (job_id, owner_id, requested_at) values (p_job, v_uid, v_now);
  return j;
end
$$;

-- Watching jobs ---------------------------------------------------------------------------------
-- Every change of a job, each report of its progress and every attempt to deliver its webhooks is
-- a notification on channel vidpipe_jobs carrying the job's id alone: a listener (the local
-- results page) reads the job again with its reader's rights. Front ends on a hosted project follow processing_jobs through
-- Realtime instead.
create function public.notify_job_event() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform pg_notify('vidpipe_jobs', new.job_id::text);
  return null;
end
$$;

create trigger job_event_notify after insert on public.job_events
  for each row execute function public.notify_job_event();
