-- vidpipe: putting failed jobs back to work, the replay ledger of the functions, and the
-- sweeper's schedule on hosted Supabase (pg_cron).

alter table public.processing_jobs
  add column if not exists retries integer not null default 0,   -- times the job was requeued
  add column if not exists retry_requested_at timestamptz;       -- a requeued ingest awaiting its run
comment on column public.processing_jobs.retries is
  'How many times the job was requeued; part of the webhook-id of each announcement.';

-- Replay ledger --------------------------------------------------------------------------------
-- The webhook-id of every event a function handled. A signed request sent again is a replay:
-- refused while its signature is fresh enough to verify; once stale, the signature check refuses
-- it, so the sweeper keeps only the last ten minutes.
create table if not exists public.event_receipts (
  message_id text primary key,
  function text not null,
  received_at timestamptz not null default now()
);
comment on table public.event_receipts is 'Events the functions handled recently, to refuse replays.';
create index if not exists event_receipts_received_at on public.event_receipts (received_at);

-- Requeue -------------------------------------------------------------------------------------
-- Puts a failed job back at the step that failed, with fresh attempts. The history (every
-- earlier attempt, error and reason) stays in job_events. A job that failed at ingest has its
-- upload checked again: the ingest event is re-emitted and ingest settles it (finish_reingest).
create or replace function public.requeue_job(p_job uuid, p_now timestamptz default now())
returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  obj storage.objects;
  v_step public.job_step;
begin
  j := public.lock_job(p_job);
  if j.status <> 'failed' then
    raise exception 'job % is %, not failed: nothing to retry', p_job, j.status using errcode = 'VP410';
  end if;
  if j.lease_owner is not null or j.retry_requested_at is not null then
    raise exception 'job % is being announced or retried; try again shortly', p_job using errcode = 'VP409';
  end if;
  v_step := coalesce(j.failed_step, 'process');
  if v_step = 'ingest' then
    select so.* into obj from storage.objects so join public.videos v on v.object_id = so.id
     where v.id = j.video_id;
    if not found then
      raise exception 'the upload of job % is no longer in storage', p_job using errcode = 'VP404';
    end if;
    update public.processing_jobs
       set retries = retries + 1, retry_requested_at = p_now, attempts = 0
     where id = p_job returning * into j;
    insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, reason_code, message)
    values (j.id, j.owner_id, 'failed', 'failed', 0, j.reason_code, 'retry requested: checking the upload again');
    perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(obj), null, p_now);
    return j;
  end if;
  perform set_config('vidpipe.transition_note', format('retry requested at step %s', v_step), true);
  update public.processing_jobs
     set status = public.step_waiting_status(v_step), retries = retries + 1, attempts = 0,
         reason_code = null, failed_step = null, run_after = p_now, notified_at = null
   where id = p_job returning * into j;
  perform set_config('vidpipe.transition_note', '', true);
  return j;
end
$$;

-- Ingest's verdict on a requeued upload: queued when it now passes (p_reason null), otherwise
-- failed again with the new reason, and announced again either way.
create or replace function public.finish_reingest(
  p_job uuid, p_owner uuid, p_size bigint, p_reason text, p_message text
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.lock_job(p_job);
  if j.status <> 'failed' or j.retry_requested_at is null then
    raise exception 'job % has no ingest retry pending', p_job using errcode = 'VP410';
  end if;
  if p_reason is null then
    update public.videos set owner_id = p_owner, size_bytes = p_size, updated_at = now() where id = j.video_id;
    perform set_config('vidpipe.transition_note', 'the upload passed its checks on retry', true);
    update public.processing_jobs
       set status = 'queued', owner_id = p_owner, reason_code = null, failed_step = null,
           retry_requested_at = null, run_after = now(), notified_at = null
     where id = p_job returning * into j;
    perform set_config('vidpipe.transition_note', '', true);
    return j;
  end if;
  update public.processing_jobs
     set reason_code = p_reason, last_error = p_message, retry_requested_at = null, notified_at = null,
         updated_at = now()
   where id = p_job returning * into j;
  insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, reason_code, message)
  values (j.id, j.owner_id, 'failed', 'failed', 0, p_reason, p_message);
  perform public.emit_job_event(j, 'notify', now());
  return j;
end
$$;

-- The sweeper on hosted Supabase ---------------------------------------------------------------
-- Where pg_cron exists (Supabase has it; enable it under Database → Extensions first), the
-- sweeper runs every 10 seconds; pg_cron before 1.5 knows no seconds, so every minute there.
-- cron.schedule upserts by name, so applying this twice keeps one job.
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
  perform cron.schedule('vidpipe-sweep',
                        case when v_version >= array[1, 5] then '10 seconds' else '* * * * *' end,
                        'select count(*) from public.sweep()');
end
$$;
