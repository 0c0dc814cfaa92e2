-- vidpipe: the job's progress. The running step reports what it does now (packaging, encoding,
-- transcribing) and how far it is, in seconds of the video, on the job's row (report_progress,
-- by the lease holder only; cleared at every status change): Realtime, `vidpipe status` and the
-- results page follow it, and the webhook payloads carry it (`data.progress`). The same change as
-- supabase/schemas/ (20_tables, 30_state_machine, 50_webhooks, 70_security).

alter table public.processing_jobs
  add column progress_stage text,
  add column progress_done double precision,
  add column progress_total double precision,
  add column progress_unit text,
  add constraint progress_while_running check (progress_stage is null or status in ('processing', 'describing')),
  add constraint progress_complete check (
    (progress_stage is null) = (progress_total is null) and (progress_stage is null) = (progress_done is null)
    and (progress_stage is null) = (progress_unit is null)),
  add constraint progress_in_range check (progress_done between 0 and progress_total);

-- The one transition ---------------------------------------------------------------------------
-- Moves job p_job to p_to and sets what goes with it:
--   a claim (to processing/describing) counts an attempt and takes the lease for p_worker;
--   a retry (running → waiting) waits a backoff; any other change starts its step afresh;
--   failed carries p_reason and the step that failed; p_message becomes last_error.
create or replace function public.transition_job(
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

-- The body: thin, with where the owner can read more (PostgREST paths under the project's URL).
create or replace function public.webhook_payload(j public.processing_jobs, p_type public.webhook_event_type, p_now timestamptz)
returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'type', p_type,
    'timestamp', to_char(p_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'data', jsonb_strip_nulls(jsonb_build_object(
      'job_id', j.id, 'video_id', j.video_id, 'status', j.status,
      'reason', j.reason_code, 'message', case when j.status = 'failed' then j.last_error end,
      'failed_step', j.failed_step,
      'progress', case when j.status = 'ready' then jsonb_build_object('stage', 'ready', 'percent', 100)
                       when j.progress_stage is not null then jsonb_build_object(
                         'stage', j.progress_stage, 'done', j.progress_done, 'total', j.progress_total,
                         'unit', j.progress_unit, 'percent', floor(100 * j.progress_done / j.progress_total)) end,
      'links', jsonb_build_object(
        'job', '/rest/v1/processing_jobs?id=eq.' || j.id,
        'metadata', '/rest/v1/video_metadata?video_id=eq.' || j.video_id,
        'artifacts', '/rest/v1/video_artifacts?video_id=eq.' || j.video_id))))
$$;

revoke execute on function public.report_progress(uuid, text, text, double precision, double precision, text, timestamptz)
  from public, anon, authenticated;
grant execute on function public.report_progress(uuid, text, text, double precision, double precision, text, timestamptz)
  to service_role;
