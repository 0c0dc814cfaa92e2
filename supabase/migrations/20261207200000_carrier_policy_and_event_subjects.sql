-- vidpipe: one owner for the event carriers' policy, a typed subject on every outbox event, and
-- one queue for customer webhooks.
-- The dispatcher read batch, visibility, timeout and attempts from its environment while pg_net
-- read them from delivery_settings (with another batch), and the retry backoff's base was a
-- database setting: now delivery_settings (one row, always present) holds them all and both
-- carriers read it. Outbox events were matched to their job, upload or delivery through
-- payload->'record'->>'id' on an expression index; now each event names its subject
-- (subject_kind, subject_id), indexed. A webhook delivery was claimed twice, by its outbox event
-- and by a lease of its own on the delivery row: now the event's claim is the only one (the row
-- names the event in flight, sending_event), and the webhook functions' names say so
-- (claim_webhook_delivery, record_webhook_attempt, replay_webhook_delivery, …). The same change as
-- supabase/schemas/ (10_types, 20_tables, 30_state_machine, 40_events, 50_webhooks, 60_sweeper,
-- 70_security).

create type public.event_subject as enum (
  'storage_object',   -- an upload (storage.objects): ingest's events
  'job',              -- a processing job: the events of the steps it waits for
  'webhook_delivery'  -- one message on its way to one customer endpoint: notify's events
);
comment on type public.event_subject is 'What an outbox event is about; its row is event_outbox.subject_id.';

-- Every event so far is about its payload's record; an event without one was never deliverable.
alter table public.event_outbox add column subject_kind public.event_subject, add column subject_id uuid;
update public.event_outbox
   set subject_kind = case when target = 'ingest' then 'storage_object'
                           when target = 'notify' then 'webhook_delivery'
                           else 'job' end::public.event_subject,
       subject_id = case when payload #>> '{record,id}' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                         then (payload #>> '{record,id}')::uuid end;
delete from public.event_outbox where subject_id is null;
alter table public.event_outbox alter column subject_kind set not null, alter column subject_id set not null;
drop index public.event_outbox_pending_record;
create index event_outbox_pending_subject on public.event_outbox (subject_kind, subject_id)
  where delivered_at is null and dead_at is null;

alter table public.delivery_settings
  add column backoff_base_seconds numeric not null default 10
    check (backoff_base_seconds > 0 and backoff_base_seconds <= 600),
  alter column batch set default 20;
comment on table public.delivery_settings is
  'How outbox events reach the functions and the policy both carriers follow. One row; set with configure_delivery.';
insert into public.delivery_settings default values on conflict (singleton) do nothing;
-- The old default batch was 50 for pg_net and 20 for the dispatcher: one value now. A database
-- that shortened the backoff with its setting keeps that base.
update public.delivery_settings set batch = 20 where batch = 50;
update public.delivery_settings
   set backoff_base_seconds = least(600, current_setting('vidpipe.retry_base_seconds', true)::numeric)
 where current_setting('vidpipe.retry_base_seconds', true) ~ '^[0-9]+(\.[0-9]+)?$'
   and current_setting('vidpipe.retry_base_seconds', true)::numeric > 0;

-- The function a job waits for follows from its status's step: one rule, not a second table.
create or replace function public.job_event_target(p_status public.job_status)
returns public.pipeline_function language sql immutable set search_path = '' as $$
  select public.step_of(p_status)::text::public.pipeline_function
   where p_status = public.step_waiting_status(public.step_of(p_status))
$$;

drop function public.enqueue_event(public.pipeline_function, text, text, text, jsonb, jsonb, timestamptz, timestamptz);

create function public.subject_table(p_kind public.event_subject, out schema_name text, out table_name text)
language sql immutable set search_path = '' as $$
  select case p_kind when 'storage_object' then 'storage' else 'public' end,
         case p_kind when 'storage_object' then 'objects' when 'job' then 'processing_jobs'
                     when 'webhook_delivery' then 'webhook_deliveries' end
$$;

create function public.enqueue_event(
  p_target public.pipeline_function, p_type text, p_subject public.event_subject, p_record jsonb,
  p_old_record jsonb, p_available_at timestamptz, p_now timestamptz
) returns bigint
language plpgsql set search_path = '' as $$
declare
  t record := public.subject_table(p_subject);
  v_id bigint;
begin
  insert into public.event_outbox (target, subject_kind, subject_id, payload, available_at, created_at)
  values (p_target, p_subject, (p_record ->> 'id')::uuid,
          jsonb_build_object('type', p_type, 'table', t.table_name, 'schema', t.schema_name,
                             'record', p_record, 'old_record', p_old_record),
          p_available_at, p_now)
  returning id into v_id;
  perform pg_notify('vidpipe_outbox', p_target::text);
  return v_id;
end
$$;

create or replace function public.retry_backoff(p_attempt integer)
returns interval language sql volatile set search_path = '' as $$
  select make_interval(secs =>
    least(600, coalesce((select s.backoff_base_seconds from public.delivery_settings s), 10)
               * power(2, greatest(p_attempt - 1, 0)))
    * (0.75 + random() * 0.5))
$$;

create or replace function public.job_changed(
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
end
$$;

create or replace function public.requeue_job(p_job uuid, p_now timestamptz default now())
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

create or replace function public.on_storage_object_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from public.ingest_buckets b where b.bucket_id = new.bucket_id) then
    perform public.enqueue_event('ingest', 'INSERT', 'storage_object', to_jsonb(new), null, now(), now());
  end if;
  return null;
end
$$;

create or replace function public.settle_dead_event(e public.event_outbox, p_permanent boolean, p_now timestamptz)
returns void
language plpgsql set search_path = '' as $$
declare
  v_reason public.failure_reason := case when p_permanent then 'event_rejected' else 'retries_exhausted' end;
  v_message text := case when p_permanent
    then format('the %s function refused the event: %s', e.target, coalesce(e.last_error, 'no detail'))
    else format('the %s function could not be reached after %s deliveries: %s', e.target, e.attempts,
                coalesce(e.last_error, 'no detail')) end;
  o record;
  j public.processing_jobs;
begin
  if e.subject_kind = 'webhook_delivery' then
    perform public.fail_webhook_delivery(e.subject_id, coalesce(e.last_error, 'no detail'), p_now);
  elsif e.subject_kind = 'storage_object' then
    select so.id, so.bucket_id, so.name, so.metadata, u.id as owner into o
      from storage.objects so left join auth.users u on u.id = so.owner
     where so.id = e.subject_id;
    if found then
      perform public.create_job(
        o.id, o.owner, o.bucket_id, o.name,
        case when o.metadata ->> 'size' ~ '^[0-9]{1,18}$' then (o.metadata ->> 'size')::bigint end,
        o.metadata ->> 'mimetype', p_reason => v_reason, p_message => v_message, p_now => p_now);
    end if;
  else
    select * into j from public.processing_jobs where id = e.subject_id for update;
    -- gone, or moved on (a worker holding it is the lease's business)
    if found and j.status = public.step_waiting_status(e.target::text::public.job_step) then
      perform public.transition_job(j.id, 'failed', p_now, v_reason, v_message);
    end if;
  end if;
end
$$;

create or replace function public.configure_delivery(
  p_carrier public.delivery_carrier, p_function_urls jsonb default null, p_event_secret text default null,
  p_timeout_ms integer default null, p_max_attempts integer default null, p_now timestamptz default now()
) returns public.delivery_settings
language plpgsql set search_path = '' as $$
declare
  s public.delivery_settings;
  v_bad text;
  v_in_vault boolean := p_event_secret is not null
                        and to_regprocedure('vault.create_secret(text, text, text, uuid)') is not null;
  v_vault_id uuid;
begin
  -- https only: pg_net follows redirects and turns the POST into a body-less GET, and an http URL
  -- is often a redirect to https. Plain http only on this machine (the local stack).
  select string_agg(u.key, ', ') into v_bad from jsonb_each(coalesce(p_function_urls, '{}'::jsonb)) u
   where u.key not in (select unnest(enum_range(null::public.pipeline_function))::text)
      or jsonb_typeof(u.value) <> 'string'
      or (u.value #>> '{}') !~ '^(https://\S+|http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/\S*)?)$';
  if v_bad is not null then
    raise exception 'not a function name with an https URL (http only for this machine): %', v_bad
      using errcode = '22023';
  end if;
  if p_event_secret !~ '^whsec_[A-Za-z0-9+/]+={0,2}$' then
    raise exception 'the event secret must be a Standard Webhooks whsec_ secret' using errcode = '22023';
  end if;
  if v_in_vault then  -- kept encrypted in Vault, not in the table
    select id into v_vault_id from vault.secrets where name = 'vidpipe_event_secret';
    if v_vault_id is null then
      perform vault.create_secret(p_event_secret, 'vidpipe_event_secret', 'signs the events vidpipe sends its functions');
    else
      perform vault.update_secret(v_vault_id, p_event_secret);
    end if;
  end if;
  insert into public.delivery_settings default values on conflict (singleton) do nothing;
  update public.delivery_settings d
     set carrier = p_carrier,
         function_urls = coalesce(p_function_urls, d.function_urls),
         event_secret = case when v_in_vault then null else coalesce(p_event_secret, d.event_secret) end,
         timeout_ms = coalesce(p_timeout_ms, d.timeout_ms),
         max_attempts = coalesce(p_max_attempts, d.max_attempts),
         updated_at = p_now
  returning * into s;
  if s.carrier = 'pg_net'
     and (public.event_secret() is null or to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null)
  then
    raise exception 'pg_net delivery needs the pg_net extension and an event secret' using errcode = '55000';
  end if;
  if s.carrier = 'pg_net' and not (select h.ok from public.delivery_health() h where h.part = 'pg_net worker') then
    raise warning '%', (select h.says from public.delivery_health() h where h.part = 'pg_net worker');
  end if;
  return s;
end
$$;

create or replace function public.announce(j public.processing_jobs, p_type public.webhook_event_type, p_now timestamptz)
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
    perform public.enqueue_event('notify', 'INSERT', 'webhook_delivery', to_jsonb(d), null, p_now, p_now);
  end loop;
  return v_id;
end
$$;

create or replace function public.sweep(p_now timestamptz default now(), p_stale_seconds integer default 120)
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
                 where o.delivered_at is null and o.dead_at is null and o.subject_kind = 'job' and o.subject_id = pj.id)
            for update skip locked loop
    update public.processing_jobs set updated_at = p_now where id = j.id returning * into j;
    perform public.enqueue_event(public.job_event_target(j.status), 'UPDATE', 'job', to_jsonb(j), to_jsonb(j),
                                 p_now, p_now);
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
                 where ev.delivered_at is null and ev.dead_at is null and ev.subject_kind = 'storage_object'
                   and ev.subject_id = so.id)
            order by so.created_at
            limit 100 loop
    perform public.enqueue_event('ingest', 'INSERT', 'storage_object', to_jsonb(obj), null, p_now, p_now);
    subject_id := obj.id; action := 'ingest_reemitted'; return next;
  end loop;

  -- 4. Housekeeping: receipts older than any signature that still verifies, and delivered events
  --    after a week (job_events keeps the history; dead events stay for an operator to read).
  delete from public.event_receipts where received_at < p_now - interval '10 minutes';
  delete from public.event_outbox where delivered_at < p_now - interval '7 days';
end
$$;

-- Customer webhooks: one queue. An attempt in flight now is sent again when its event's claim
-- ends, as after any crash of notify.
alter type public.delivery_status rename to webhook_delivery_status;
drop index public.webhook_deliveries_sending_endpoint;
drop index public.webhook_deliveries_sending_owner;
alter table public.webhook_deliveries add column sending_event bigint, add column sending_round integer;
update public.webhook_deliveries set status = 'pending' where status = 'sending';
alter table public.webhook_deliveries drop column lease_owner, drop column lease_expires_at,
  add constraint webhook_deliveries_sending_claim
    check ((status = 'sending') = (sending_event is not null) and (sending_event is null) = (sending_round is null));
create index webhook_deliveries_sending_endpoint on public.webhook_deliveries (endpoint_id) where status = 'sending';
create index webhook_deliveries_sending_owner on public.webhook_deliveries (owner_id) where status = 'sending';
drop function public.lock_delivery(uuid);
drop function public.claim_delivery(uuid, text, integer, integer, timestamptz);
drop function public.record_attempt(uuid, text, integer, text, integer, text, timestamptz, timestamptz);
drop function public.replay_delivery(uuid, timestamptz);
drop function public.settle_dead_delivery(uuid, text, timestamptz);

create function public.event_message_id(p_id bigint)
returns text language sql immutable set search_path = '' as $$
  select 'evt_' || p_id
$$;

create function public.outbox_event(p_message_id text)
returns public.event_outbox language sql stable set search_path = '' as $$
  select * from public.event_outbox where id = substring(p_message_id from '^evt_([0-9]{1,18})$')::bigint
$$;

create function public.webhook_sending_until(d public.webhook_deliveries, p_now timestamptz)
returns timestamptz
language sql stable set search_path = '' as $$
  select o.available_at from public.event_outbox o
   where d.status = 'sending' and o.id = d.sending_event and o.attempts = d.sending_round
     and o.delivered_at is null and o.dead_at is null and o.available_at > p_now
$$;

create function public.lock_webhook_delivery(p_id uuid)
returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
begin
  select * into d from public.webhook_deliveries w where w.id = p_id;
  if not found then
    return null;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('vidpipe.webhook_sending:' || coalesce(d.owner_id::text, ''), 0));
  perform from public.webhook_endpoints e where e.id = d.endpoint_id for no key update;
  select * into d from public.webhook_deliveries w where w.id = p_id for update;
  return d;  -- null when it was deleted meanwhile
end
$$;

create function public.claim_webhook_delivery(
  p_id uuid, p_message_id text, p_claim_seconds integer, p_owner_limit integer default 4,
  p_now timestamptz default now()
) returns table (delivery_id uuid, message_id text, url text, secret text, body jsonb, attempt integer, claim text,
                 deferred_until timestamptz)
language plpgsql set search_path = '' as $$
declare
  e public.event_outbox := public.outbox_event(p_message_id);
  d public.webhook_deliveries;
  v_wait timestamptz;
begin
  if e.id is null or e.subject_kind <> 'webhook_delivery' or e.subject_id <> p_id then
    raise exception 'event % carries no attempt of delivery %', p_message_id, p_id using errcode = 'VP404';
  end if;
  d := public.lock_webhook_delivery(p_id);
  if d.id is null then
    raise exception 'delivery % not found', p_id using errcode = 'VP404';
  end if;
  if d.finished_at is not null then
    raise exception 'delivery % is %', p_id, d.status using errcode = 'VP410';
  end if;
  if d.next_attempt_at > p_now and d.status <> 'sending' then
    raise exception 'delivery % is not due before %', p_id, d.next_attempt_at using errcode = 'VP410';
  end if;
  if not exists (select 1 from public.webhook_endpoints ep where ep.id = d.endpoint_id and ep.enabled) then
    update public.webhook_deliveries w
       set status = 'cancelled', finished_at = p_now, last_error = 'the endpoint is turned off',
           sending_event = null, sending_round = null
     where w.id = p_id;
    return;  -- no row: nothing to send
  end if;
  -- Its own attempt in flight (a sender still at work), the endpoint's other send, or the owner's limit.
  v_wait := public.webhook_sending_until(d, p_now);
  v_wait := coalesce(v_wait, (select min(public.webhook_sending_until(w, p_now)) from public.webhook_deliveries w
                               where w.endpoint_id = d.endpoint_id and w.status = 'sending' and w.id <> d.id));
  if v_wait is null then
    select case when count(s.until) >= p_owner_limit then min(s.until) end into v_wait
      from (select public.webhook_sending_until(w, p_now) as until from public.webhook_deliveries w
             where w.owner_id = d.owner_id and w.status = 'sending' and w.id <> d.id) s;
  end if;
  if v_wait is not null then
    perform public.enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, v_wait, p_now);
    return query select d.id, d.message_id, null::text, null::text, null::jsonb, d.attempts, null::text, v_wait;
    return;
  end if;
  update public.webhook_deliveries w set status = 'sending', sending_event = e.id, sending_round = e.attempts
   where w.id = p_id;
  update public.event_outbox o set available_at = p_now + make_interval(secs => p_claim_seconds) where o.id = e.id;
  return query
    select d.id, d.message_id, ep.url, ep.secret, m.payload, d.attempts + 1, e.id || '/' || e.attempts,
           null::timestamptz
      from public.webhook_endpoints ep, public.webhook_messages m
     where ep.id = d.endpoint_id and m.id = d.message_id;
end
$$;

create function public.record_webhook_attempt(
  p_id uuid, p_claim text, p_status_code integer, p_error text, p_latency_ms integer, p_response_body text,
  p_retry_at timestamptz, p_now timestamptz default now()
) returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries := public.lock_webhook_delivery(p_id);
  m public.webhook_messages;
  v_ok boolean := coalesce(p_status_code between 200 and 299, false);
  v_final boolean := v_ok or p_status_code = 410 or p_retry_at is null;
  v_held boolean;
begin
  if d.id is null then
    raise exception 'delivery % is gone', p_id using errcode = 'VP412';
  end if;
  v_held := d.status = 'sending' and d.sending_event || '/' || d.sending_round = p_claim;
  select * into m from public.webhook_messages where id = d.message_id;
  insert into public.webhook_attempts (delivery_id, endpoint_id, job_id, owner_id, event_type, message_id, attempt,
                                       status_code, error, latency_ms, response_body, created_at)
  values (d.id, d.endpoint_id, m.job_id, d.owner_id, m.event_type, m.id, d.attempts + 1,
          p_status_code, case when v_held then p_error else concat_ws('; ', p_error, 'sent after its claim ran out') end,
          p_latency_ms, left(p_response_body, 500), p_now);
  if not v_held then
    return d;
  end if;
  if p_status_code = 410 then
    update public.webhook_endpoints
       set enabled = false, disabled_reason = format('HTTP 410 Gone at %s', p_now), updated_at = p_now
     where id = d.endpoint_id;
    update public.webhook_deliveries
       set status = 'cancelled', finished_at = p_now, last_error = 'the endpoint answered 410 Gone',
           sending_event = null, sending_round = null
     where endpoint_id = d.endpoint_id and finished_at is null and id <> d.id;
  end if;
  update public.webhook_deliveries w
     set attempts = w.attempts + 1, sending_event = null, sending_round = null,
         last_status_code = p_status_code, last_error = case when v_ok then null else p_error end,
         status = case when v_ok then 'delivered' when v_final then 'failed' else 'pending' end
                  ::public.webhook_delivery_status,
         delivered_at = case when v_ok then p_now end,
         finished_at = case when v_final then p_now end,
         next_attempt_at = case when v_final then w.next_attempt_at else p_retry_at end
   where w.id = p_id
  returning * into d;
  if d.status = 'pending' then
    perform public.enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, p_retry_at, p_now);
  end if;
  -- A waiting delivery's event is one not yet handed out (attempts = 0) and due later.
  update public.event_outbox set available_at = p_now
   where id = (
     select o.id from public.webhook_deliveries w
       join public.event_outbox o on o.subject_kind = 'webhook_delivery' and o.subject_id = w.id
      where w.owner_id = d.owner_id and w.finished_at is null and w.status <> 'sending' and w.next_attempt_at <= p_now
        and o.delivered_at is null and o.dead_at is null and o.target = 'notify' and o.attempts = 0
        and o.available_at > p_now
      order by w.endpoint_id <> d.endpoint_id, w.next_attempt_at, w.created_at
      limit 1);
  if found then  -- its carrier hears of it now, not at its next poll or cron run
    perform pg_notify('vidpipe_outbox', 'notify');
    perform public.send_due_events();
  end if;
  return d;
end
$$;

create function public.replay_webhook_delivery(p_id uuid, p_now timestamptz default now())
returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
begin
  d := public.lock_webhook_delivery(p_id);
  if d.id is null then
    raise exception 'delivery % not found', p_id using errcode = 'VP404';
  end if;
  if public.webhook_sending_until(d, p_now) is not null then
    raise exception 'delivery % is being sent right now', p_id using errcode = 'VP409';
  end if;
  update public.webhook_deliveries
     set status = 'pending', replays = replays + 1, attempts = 0, next_attempt_at = p_now, finished_at = null,
         delivered_at = null, sending_event = null, sending_round = null
   where id = p_id
  returning * into d;
  perform public.enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, p_now, p_now);
  return d;
end
$$;

create function public.fail_webhook_delivery(p_id uuid, p_message text, p_now timestamptz)
returns void
language sql set search_path = '' as $$
  update public.webhook_deliveries
     set status = 'failed', finished_at = p_now, sending_event = null, sending_round = null,
         last_error = format('the notify function could not take the delivery: %s', p_message)
   where id = p_id and finished_at is null
$$;

create or replace function public.deliver_due_events(p_now timestamptz default now())
returns integer
language plpgsql security definer set search_path = '' as $$
declare
  s public.delivery_settings;
  e public.event_outbox;
  v_secret text := public.event_secret();
  v_url text;
  v_id text;
  v_timestamp bigint := floor(extract(epoch from p_now));
  v_sent integer := 0;
begin
  select * into s from public.delivery_settings;
  if s.carrier is distinct from 'pg_net' or v_secret is null
     or to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null then
    return 0;
  end if;
  for e in select * from public.claim_outbox(s.batch, s.visibility_seconds, p_now) loop
    v_url := s.function_urls ->> e.target::text;
    if v_url is null then
      perform public.settle_outbox_attempt(e.id, null, format('no URL configured for function %s', e.target),
                                           s.max_attempts, p_now);
      continue;
    end if;
    v_id := public.event_message_id(e.id);
    insert into public.event_requests (request_id, event_id, sent_at)
    values (net.http_post(
              url => v_url, body => e.payload,
              headers => jsonb_build_object(
                'Content-Type', 'application/json', 'webhook-id', v_id, 'webhook-timestamp', v_timestamp::text,
                'webhook-signature', public.sign_event(v_secret, v_id, v_timestamp, e.payload::text)),
              timeout_milliseconds => s.timeout_ms),
            e.id, p_now);
    v_sent := v_sent + 1;
  end loop;
  return v_sent;
end
$$;

-- An event woken early is sent at once too, not at the next reconcile: one function sends what
-- is due, for the insert trigger and for the code that wakes an event.
create function public.send_due_events() returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform public.deliver_due_events(now());
exception when others then
  raise warning 'vidpipe: sending events failed, the reconciler will: %', sqlerrm;
end
$$;

create or replace function public.on_outbox_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform public.send_due_events();
  return null;
end
$$;

-- A function URL that redirects is a configuration mistake, said so and not retried: pg_net follows
-- redirects as body-less GETs.
create or replace function public.settle_outbox_attempt(
  p_id bigint, p_status_code integer, p_detail text, p_max_attempts integer, p_now timestamptz default now()
) returns text
language plpgsql set search_path = '' as $$
declare
  v_error text := case
    when p_status_code is null then coalesce(p_detail, 'no answer')
    when p_status_code between 300 and 399 then format(
      'HTTP %s: the function''s URL redirects; configure_delivery needs its final https URL', p_status_code)
    else rtrim(format('HTTP %s: %s', p_status_code, left(p_detail, 300)), ': ') end;
  v_permanent boolean := p_status_code between 300 and 499 and p_status_code not in (408, 429);
begin
  if p_status_code between 200 and 299 or p_status_code = 409 then
    perform public.ack_outbox(p_id, p_now);
    return 'ack';
  end if;
  return case when (public.retry_outbox(p_id, v_error, p_max_attempts, v_permanent, p_now)).dead_at is null
              then 'retry' else 'dead' end;
end
$$;

-- Whether events can flow, in words a Supabase user can act on (pg_net's worker, pg_cron's runs).
create function public.delivery_health()
returns table (part text, ok boolean, says text)
language plpgsql stable security definer set search_path = '' as $$
declare
  s public.delivery_settings;
  v_db text := current_database();
  v_net_db text := coalesce(nullif(current_setting('pg_net.database_name', true), ''), 'postgres');
  v_job text;
  r record;
begin
  select * into s from public.delivery_settings;
  if s.carrier = 'dispatcher' then
    part := 'dispatcher';
    ok := exists (select from pg_stat_activity a where a.datname = v_db and a.application_name = 'vidpipe dispatcher');
    says := case when ok then 'a dispatcher carries the events'
                 else 'no dispatcher is connected to this database: start one (python -m infra.dispatcher), '
                      || 'or let the database send the events (configure_delivery(''pg_net'', …))' end;
    return next;
  else
    part := 'pg_net worker';
    ok := exists (select from pg_stat_activity a
                   where a.datname = v_db and (a.backend_type ilike '%pg_net%' or a.application_name ilike 'pg_net %'));
    says := case
      when ok then 'a pg_net worker sends this database''s requests'
      when to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null
        then 'pg_net is not installed: enable it under Database → Extensions'
      else format('no pg_net worker serves database %s (pg_net.database_name is %s): '
                  || 'alter system set pg_net.database_name = %L; then select net.worker_restart()', v_db, v_net_db, v_db)
      end;
    return next;
    part := 'event secret';
    ok := public.event_secret() is not null;
    says := case when ok then 'an event secret signs the events'
                 else 'no event secret: select public.configure_delivery(''pg_net'', null, ''whsec_…'')' end;
    return next;
  end if;
  if to_regclass('cron.job') is null then
    if s.carrier = 'pg_net' then
      part := 'pg_cron';
      ok := false;
      says := 'pg_cron is not installed: enable it under Database → Extensions, then apply the migrations again';
      return next;
    end if;
    return;
  end if;
  for v_job in select j.name from public.scheduled_jobs() j loop
    part := v_job;
    select d.status, d.return_message, d.end_time into r
      from cron.job_run_details d join cron.job j on j.jobid = d.jobid
     where j.jobname = v_job order by d.start_time desc limit 1;
    ok := found and r.status = 'succeeded' and r.end_time > now() - interval '5 minutes';
    says := case
      when not exists (select from cron.job j where j.jobname = v_job)
        then 'not scheduled: apply the migrations again, with pg_cron enabled'
      when r.status is null then 'scheduled, not run yet (every 10 s; every minute before pg_cron 1.5); '
                                  || 'a self-hosted database needs cron.use_background_workers = on'
      when r.status <> 'succeeded' then format('its last run %s: %s', r.status, r.return_message)
      when not ok then format('its last run ended at %s: is pg_cron running?', r.end_time)
      else format('ran at %s', r.end_time) end;
    return next;
  end loop;
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array[
    'public.subject_table(public.event_subject)',
    'public.send_due_events()',
    'public.delivery_health()',
    'public.enqueue_event(public.pipeline_function, text, public.event_subject, jsonb, jsonb, timestamptz, timestamptz)',
    'public.event_message_id(bigint)',
    'public.outbox_event(text)',
    'public.webhook_sending_until(public.webhook_deliveries, timestamptz)',
    'public.lock_webhook_delivery(uuid)',
    'public.claim_webhook_delivery(uuid, text, integer, integer, timestamptz)',
    'public.record_webhook_attempt(uuid, text, integer, text, integer, text, timestamptz, timestamptz)',
    'public.replay_webhook_delivery(uuid, timestamptz)',
    'public.fail_webhook_delivery(uuid, text, timestamptz)'
  ] loop
    execute format('revoke execute on function %s from public, anon, authenticated', f::regprocedure);
    execute format('grant execute on function %s to service_role', f::regprocedure);
  end loop;
end
$$;
