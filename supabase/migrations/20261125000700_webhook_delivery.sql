-- vidpipe: customer webhooks delivered like Svix and Stripe do. Each job event becomes one
-- message (its id is the webhook-id, stable across retries); each message goes to every enabled
-- endpoint of the owner that wants its type as one delivery, with its own retry schedule; every
-- HTTP attempt is logged. All of it is written in the transaction of the status change that
-- caused it, and every attempt is an outbox event, so nothing is lost when a process dies.

-- The attempt log (what webhook_deliveries held until now) ---------------------------------------
do $$
begin
  if to_regclass('public.webhook_attempts') is null then
    alter table public.webhook_deliveries rename to webhook_attempts;
    alter index if exists public.webhook_deliveries_job rename to webhook_attempts_job;
    alter index if exists public.webhook_deliveries_message rename to webhook_attempts_message;
  end if;
end
$$;
comment on table public.webhook_attempts is 'Every HTTP attempt to deliver a message to an endpoint.';

create table if not exists public.webhook_messages (
  id text primary key,                  -- the webhook-id header: msg_<job>_<type>[_r<retries>]
  owner_id uuid references auth.users (id) on delete cascade,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  event_type text not null check (event_type in ('video.ingested', 'video.processed', 'video.ready', 'video.failed')),
  payload jsonb not null,               -- {type, timestamp, data}: the body every endpoint receives
  created_at timestamptz not null default now()
);
comment on table public.webhook_messages is 'One per job event announced to its owner; the webhook body.';

create table if not exists public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  message_id text not null references public.webhook_messages (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid references auth.users (id) on delete cascade,
  status text not null default 'pending'
    check (status in ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
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
create index if not exists webhook_deliveries_endpoint on public.webhook_deliveries (endpoint_id);
create index if not exists webhook_deliveries_job on public.webhook_deliveries (job_id);
create index if not exists webhook_deliveries_open on public.webhook_deliveries (next_attempt_at)
  where finished_at is null;

alter table public.webhook_attempts
  add column if not exists delivery_id uuid references public.webhook_deliveries (id) on delete cascade,
  add column if not exists attempt integer,
  add column if not exists response_body text;   -- the first 500 characters
create index if not exists webhook_attempts_delivery on public.webhook_attempts (delivery_id);

-- Announcing ----------------------------------------------------------------------------------
-- Where the owner can read what an event is about (PostgREST paths under the project's URL).
create or replace function public.webhook_payload(j public.processing_jobs, p_type text, p_now timestamptz)
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

-- One message per event (a repeat of the same event in the same run of the job adds nothing),
-- one delivery per enabled endpoint that wants it, one outbox event per delivery.
create or replace function public.announce(j public.processing_jobs, p_type text, p_now timestamptz default now())
returns text
language plpgsql set search_path = '' as $$
declare
  v_id text := 'msg_' || replace(j.id::text, '-', '') || '_' || replace(p_type, '.', '_')
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
    perform public.enqueue_event('notify', 'INSERT', 'public', 'webhook_deliveries', to_jsonb(d), null, p_now);
  end loop;
  return v_id;
end
$$;

-- Which event a status change is: the job entering queued (accepted by ingest), processed,
-- ready or failed.
create or replace function public.on_job_announce() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.status is distinct from coalesce(old.status, null)
     and new.status in ('queued', 'processed', 'ready', 'failed') then
    perform public.announce(new, case new.status when 'queued' then 'video.ingested'
                                                 when 'processed' then 'video.processed'
                                                 when 'ready' then 'video.ready'
                                                 else 'video.failed' end);
  end if;
  return null;
end
$$;
drop trigger if exists vidpipe_job_announce on public.processing_jobs;
create trigger vidpipe_job_announce after insert or update of status on public.processing_jobs
  for each row execute function public.on_job_announce();

-- Delivering ----------------------------------------------------------------------------------
-- Takes one delivery for one attempt: VP410 when it is finished (a duplicate event), VP409 while
-- another worker's lease is live, no row when its endpoint is turned off (it is cancelled).
-- Returns what the sender needs: the endpoint and the body.
create or replace function public.claim_delivery(
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
     set status = 'sending', lease_owner = p_worker,
         lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
   where w.id = p_id;
  return query
    select d.id, d.message_id, e.url, e.secret, m.payload, d.attempts + 1
      from public.webhook_endpoints e, public.webhook_messages m
     where e.id = d.endpoint_id and m.id = d.message_id;
end
$$;

-- Records one attempt and decides what follows, in one transaction: delivered on 2xx; on 410
-- the endpoint is turned off and its open deliveries cancelled; otherwise the next attempt at
-- p_retry_at (the caller's schedule, Retry-After honoured), or failed when p_retry_at is null.
create or replace function public.record_attempt(
  p_id uuid, p_worker text, p_status_code integer, p_error text, p_latency_ms integer, p_response_body text,
  p_retry_at timestamptz, p_now timestamptz default now()
) returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
  m public.webhook_messages;
  v_ok boolean := p_status_code between 200 and 299;
begin
  select * into d from public.webhook_deliveries w where w.id = p_id for update;
  if not found or d.lease_owner is distinct from p_worker then
    raise exception 'worker % no longer holds delivery %', p_worker, p_id using errcode = 'VP412';
  end if;
  select * into m from public.webhook_messages where id = d.message_id;
  insert into public.webhook_attempts (endpoint_id, job_id, owner_id, event_type, message_id, status_code, error,
                                       latency_ms, delivery_id, attempt, response_body, created_at)
  values (d.endpoint_id, m.job_id, d.owner_id, m.event_type, m.id, p_status_code, p_error, p_latency_ms, d.id,
          d.attempts + 1, left(p_response_body, 500), p_now);
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
         status = case when v_ok then 'delivered'
                       when p_status_code = 410 or p_retry_at is null then 'failed' else 'pending' end,
         delivered_at = case when v_ok then p_now end,
         finished_at = case when v_ok or p_status_code = 410 or p_retry_at is null then p_now end,
         next_attempt_at = case when v_ok or p_status_code = 410 or p_retry_at is null
                                then w.next_attempt_at else p_retry_at end
   where w.id = p_id
  returning * into d;
  if d.status = 'pending' then
    perform public.enqueue_event('notify', 'UPDATE', 'public', 'webhook_deliveries', to_jsonb(d), null, p_retry_at);
  end if;
  return d;
end
$$;

-- Sends a delivery again from the start of its schedule (the same webhook-id: receivers that
-- already have it drop it). Any state but sending; the attempt log keeps the earlier attempts.
create or replace function public.replay_delivery(p_id uuid, p_now timestamptz default now())
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
  perform public.enqueue_event('notify', 'UPDATE', 'public', 'webhook_deliveries', to_jsonb(d), null, p_now);
  return d;
end
$$;

-- A delivery whose outbox event died (the notify function unreachable or refusing it) fails
-- with that reason instead of waiting for ever.
create or replace function public.settle_dead_delivery(e public.event_outbox) returns boolean
language plpgsql set search_path = '' as $$
begin
  if e.payload ->> 'table' is distinct from 'webhook_deliveries' then
    return false;
  end if;
  update public.webhook_deliveries
     set status = 'failed', finished_at = now(), lease_owner = null, lease_expires_at = null,
         last_error = format('the notify function could not take the delivery: %s', coalesce(e.last_error, 'no detail'))
   where id::text = e.payload -> 'record' ->> 'id' and finished_at is null;
  return true;
end
$$;

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
  if e.dead_at is not null and not public.settle_dead_delivery(e) then
    perform public.settle_dead_event(e, p_permanent);
  end if;
  return e;
end
$$;

-- Anonymous callers read nothing at all, the transition table included.
revoke select on public.job_transitions from anon;

-- Row level security: owners read their messages and deliveries; only the pipeline writes.
do $$
declare
  t text;
begin
  foreach t in array array['webhook_messages', 'webhook_deliveries', 'webhook_attempts'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke insert, update, delete, truncate on public.%I from public, anon, authenticated', t);
    execute format('revoke select on public.%I from anon', t);
    execute format('grant all on public.%I to service_role', t);
    execute format('drop policy if exists owner_reads on public.%I', t);
    execute format(
      'create policy owner_reads on public.%I for select to authenticated using (owner_id = (select auth.uid()))', t);
  end loop;
end
$$;

select public.grant_execute_only(array['webhook_payload', 'announce', 'on_job_announce', 'claim_delivery',
                                       'record_attempt', 'replay_delivery', 'settle_dead_delivery', 'retry_outbox'],
                                 'service_role');
