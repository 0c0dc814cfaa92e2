-- vidpipe: events. Each state change that hands work to a function writes an outbox row in the
-- same transaction, shaped like a Supabase Database Webhook body. A dispatcher (locally) or
-- pg_net + pg_cron (hosted) delivers it; the sweeper rescues work whose lease or event was lost.

create index if not exists event_outbox_pending_record on public.event_outbox ((payload -> 'record' ->> 'id'))
  where delivered_at is null and dead_at is null;

-- Writing events ------------------------------------------------------------------------------
create or replace function public.enqueue_event(
  p_target text, p_type text, p_schema text, p_table text, p_record jsonb, p_old_record jsonb,
  p_available_at timestamptz default now()
) returns bigint
language plpgsql set search_path = '' as $$
declare
  v_id bigint;
begin
  insert into public.event_outbox (target, payload, available_at)
  values (p_target,
          jsonb_build_object('type', p_type, 'table', p_table, 'schema', p_schema,
                             'record', p_record, 'old_record', p_old_record),
          p_available_at)
  returning id into v_id;
  perform pg_notify('vidpipe_outbox', p_target);
  return v_id;
end
$$;

-- Which function a job waits for in a given status (null: none, it is held or finished).
create or replace function public.job_event_target(p_status public.job_status, p_notified_at timestamptz)
returns text language sql immutable set search_path = '' as $$
  select case
    when p_status = 'queued' then 'process'
    when p_status = 'processed' then 'generate_metadata'
    when p_status in ('ready', 'failed') and p_notified_at is null then 'notify'
  end
$$;

-- Re-announces a job that is waiting without a status change (notify retry, sweeper rescue).
create or replace function public.emit_job_event(
  j public.processing_jobs, p_target text, p_available_at timestamptz
) returns bigint
language sql set search_path = '' as $$
  select public.enqueue_event(p_target, 'UPDATE', 'public', 'processing_jobs', to_jsonb(j), to_jsonb(j),
                              p_available_at)
$$;

-- A transition can carry a note into the job's history (job_events.message): the function making
-- the change sets `vidpipe.transition_note` around its update; otherwise the new last_error is used.
create or replace function public.on_job_status_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_target text;
  v_note text := nullif(current_setting('vidpipe.transition_note', true), '');
begin
  if tg_op = 'UPDATE' and new.status = old.status then
    return null;
  end if;
  insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, reason_code, message)
  values (new.id, new.owner_id, case when tg_op = 'UPDATE' then old.status end, new.status,
          new.attempts, new.reason_code,
          coalesce(v_note, case when tg_op = 'INSERT' or new.last_error is distinct from old.last_error
                                then new.last_error end));
  v_target := public.job_event_target(new.status, new.notified_at);
  if v_target is not null then
    perform public.enqueue_event(
      v_target, tg_op, 'public', 'processing_jobs', to_jsonb(new),
      case when tg_op = 'UPDATE' then to_jsonb(old) end,
      case when v_target = 'notify' then now() else new.run_after end);
  end if;
  return null;
end
$$;

create or replace trigger processing_jobs_emit_events
  after insert or update of status on public.processing_jobs
  for each row execute function public.on_job_status_change();

-- Uploads into an ingest bucket start the pipeline. Security definer: the storage service's
-- role performs the insert and has no rights on our tables.
create or replace function public.on_storage_object_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from public.ingest_buckets b where b.bucket_id = new.bucket_id) then
    perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(new), null, now());
  end if;
  return null;
end
$$;

-- Created only when absent: on hosted Supabase the migration role may create a trigger on
-- storage.objects but, not owning the table, may not replace or drop one.
do $$
begin
  if not exists (select from pg_trigger
                  where tgname = 'vidpipe_object_created' and tgrelid = 'storage.objects'::regclass) then
    create trigger vidpipe_object_created
      after insert on storage.objects
      for each row execute function public.on_storage_object_created();
  end if;
end
$$;

-- Delivering events ---------------------------------------------------------------------------
-- Claims due events; each stays invisible to other dispatchers for p_visibility_seconds, so an
-- event whose dispatcher died becomes due again by itself.
create or replace function public.claim_outbox(
  p_limit integer, p_visibility_seconds integer, p_now timestamptz default now()
) returns setof public.event_outbox
language sql set search_path = '' as $$
  with due as (
    select id from public.event_outbox
     where delivered_at is null and dead_at is null and available_at <= p_now
     order by available_at, id
     for update skip locked
     limit p_limit
  )
  update public.event_outbox o
     set attempts = o.attempts + 1,
         available_at = p_now + make_interval(secs => p_visibility_seconds)
    from due where o.id = due.id
  returning o.*
$$;

create or replace function public.ack_outbox(p_id bigint, p_now timestamptz default now())
returns void language sql set search_path = '' as $$
  update public.event_outbox set delivered_at = p_now where id = p_id and delivered_at is null
$$;

-- A failed delivery is retried with backoff; after p_max_attempts (or when p_permanent, for a
-- 4xx answer) the event is dead and the work it carried is settled: never left waiting.
create or replace function public.retry_outbox(
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
    perform public.settle_dead_event(e, p_permanent);
  end if;
  return e;
end
$$;

-- The work of a dead event ends visibly: an upload becomes a failed job, a waiting step fails
-- its job (which notify then announces), an undeliverable notify is recorded as abandoned.
-- The reason says which: event_rejected for a 4xx answer, retries_exhausted otherwise.
create or replace function public.settle_dead_event(e public.event_outbox, p_permanent boolean)
returns void
language plpgsql set search_path = '' as $$
declare
  v_reason text := case when p_permanent then 'event_rejected' else 'retries_exhausted' end;
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
  if e.target = 'ingest' then
    select so.id, so.bucket_id, so.name, so.metadata, u.id as owner into o
      from storage.objects so left join auth.users u on u.id = so.owner
     where so.id = v_id;
    if found then
      perform public.reject_upload(
        o.id, o.owner, o.bucket_id, o.name,
        case when o.metadata ->> 'size' ~ '^[0-9]{1,18}$' then (o.metadata ->> 'size')::bigint end,
        o.metadata ->> 'mimetype', v_reason, v_message);
    end if;
    return;
  end if;
  select * into j from public.processing_jobs where id = v_id for update;
  if not found or j.lease_owner is not null then
    return;  -- gone, or a worker holds it: the lease decides
  end if;
  if e.target = 'notify' then
    if j.status in ('ready', 'failed') and j.notified_at is null then
      update public.processing_jobs set notified_at = now(), last_error = v_message where id = j.id;
    end if;
  elsif j.status = public.step_waiting_status(e.target::public.job_step) then
    update public.processing_jobs
       set status = 'failed', reason_code = v_reason, failed_step = e.target::public.job_step,
           last_error = v_message, attempts = 0
     where id = j.id;
  end if;
end
$$;

-- The sweeper ---------------------------------------------------------------------------------
-- Run every few seconds (dispatcher locally, pg_cron hosted). It never waits on a locked row.
-- subject_id is a job id, or a storage object id for `ingest_reemitted`.
drop function if exists public.sweep(timestamptz, integer);
create function public.sweep(
  p_now timestamptz default now(), p_stale_seconds integer default 120
) returns table (subject_id uuid, action text)
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  obj storage.objects;
  v_step public.job_step;
  v_target text;
begin
  -- 1. A held step whose lease expired: its worker died or hung.
  for j in select * from public.processing_jobs pj
            where pj.lease_expires_at < p_now for update skip locked loop
    if j.status in ('ready', 'failed') then
      update public.processing_jobs set lease_owner = null, lease_expires_at = null,
             last_error = 'notify stopped responding: lease expired',
             notified_at = case when attempts >= max_attempts then p_now end
       where id = j.id returning * into j;
      if j.notified_at is null then
        perform public.emit_job_event(j, 'notify', p_now);
        subject_id := j.id; action := 'notify_reemitted'; return next;
      else
        subject_id := j.id; action := 'notify_abandoned'; return next;
      end if;
      continue;
    end if;
    v_step := case j.status when 'processing' then 'process'::public.job_step
                            else 'generate_metadata'::public.job_step end;
    if j.attempts < j.max_attempts then
      update public.processing_jobs
         set status = public.step_waiting_status(v_step), lease_owner = null, lease_expires_at = null,
             run_after = p_now + public.retry_backoff(j.attempts),
             last_error = format('%s stopped responding: lease expired', v_step)
       where id = j.id;
      subject_id := j.id; action := 'requeued'; return next;
    else
      update public.processing_jobs
         set status = 'failed', lease_owner = null, lease_expires_at = null, attempts = 0,
             reason_code = 'retries_exhausted', failed_step = v_step,
             last_error = format('%s stopped responding on its last attempt', v_step)
       where id = j.id;
      subject_id := j.id; action := 'failed'; return next;
    end if;
  end loop;

  -- 2. A job waiting for a step with no event on its way (acknowledged without effect, or
  --    never sent).
  for j in select * from public.processing_jobs pj
            where pj.lease_owner is null
              and public.job_event_target(pj.status, pj.notified_at) is not null
              and pj.run_after <= p_now
              and pj.updated_at < p_now - make_interval(secs => p_stale_seconds)
              and not exists (
                select from public.event_outbox o
                 where o.delivered_at is null and o.dead_at is null
                   and o.payload -> 'record' ->> 'id' = pj.id::text)
            for update skip locked loop
    v_target := public.job_event_target(j.status, j.notified_at);
    update public.processing_jobs set updated_at = p_now where id = j.id;
    perform public.emit_job_event(j, v_target, p_now);
    subject_id := j.id; action := 'reemitted'; return next;
  end loop;

  -- 3. An upload into an ingest bucket that never became a video and has no event on its way.
  --    Only uploads made since the bucket joined the pipeline (joining does not ingest history)
  --    and in the last week, so each sweep reads a bounded slice of a large bucket.
  for obj in select so.* from storage.objects so
             join public.ingest_buckets b on b.bucket_id = so.bucket_id
            where so.created_at >= b.created_at
              and so.created_at > p_now - interval '7 days'
              and so.created_at < p_now - make_interval(secs => p_stale_seconds)
              and not exists (select from public.videos v where v.object_id = so.id)
              and not exists (
                select from public.event_outbox ev
                 where ev.delivered_at is null and ev.dead_at is null
                   and ev.payload -> 'record' ->> 'id' = so.id::text)
            order by so.created_at
            limit 100 loop
    perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(obj), null, p_now);
    subject_id := obj.id; action := 'ingest_reemitted'; return next;
  end loop;

  -- 4. Housekeeping: receipts older than any signature that still verifies (see
  --    event_receipts), and delivered events after a week (job_events keeps the history;
  --    dead events stay for an operator to read).
  if to_regclass('public.event_receipts') is not null then
    delete from public.event_receipts where received_at < p_now - interval '10 minutes';
  end if;
  delete from public.event_outbox where delivered_at < p_now - interval '7 days';
end
$$;
