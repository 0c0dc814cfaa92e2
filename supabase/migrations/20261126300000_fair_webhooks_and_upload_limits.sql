-- vidpipe: webhook deliveries that no endpoint can stall, and limits on what an upload may cost.
-- The dispatcher claims deliveries on workers of their own (claim_outbox's p_targets); one send at
-- a time per endpoint and a few per owner, the rest waiting their turn without spending attempts;
-- an attempt sent under a lease that ran out is still recorded; one lock order (owner, endpoint,
-- delivery) for everything that touches deliveries; at most 16 endpoints per owner and 500
-- characters of description. Ingest refuses too high a frame rate, too many frames and too many
-- streams, each with its reason. The same change as supabase/schemas/ (10_types, 20_tables,
-- 40_events, 50_webhooks, 70_security).

alter type public.failure_reason add value 'frame_rate_too_high' after 'bad_dimensions';
alter type public.failure_reason add value 'too_many_frames' after 'frame_rate_too_high';
alter type public.failure_reason add value 'too_many_streams' after 'too_many_frames';

update public.webhook_endpoints set description = left(description, 500) where length(description) > 500;
alter table public.webhook_endpoints
  add constraint webhook_endpoints_description_length check (length(description) <= 500);
-- Who is sending now (one at a time per endpoint, a few per owner), and who waits for them.
create index webhook_deliveries_sending_endpoint on public.webhook_deliveries (endpoint_id)
  where lease_owner is not null;
create index webhook_deliveries_sending_owner on public.webhook_deliveries (owner_id) where lease_owner is not null;
create index webhook_deliveries_owner_open on public.webhook_deliveries (owner_id, next_attempt_at)
  where finished_at is null;

drop function public.claim_outbox(integer, integer, timestamptz);
-- Claims due events (of the named functions only, when p_targets is given: the dispatcher keeps
-- webhook deliveries on workers of their own); each stays invisible to other dispatchers for
-- p_visibility_seconds, so an event whose dispatcher died becomes due again by itself.
create function public.claim_outbox(
  p_limit integer, p_visibility_seconds integer, p_now timestamptz default now(),
  p_targets public.pipeline_function[] default null
) returns setof public.event_outbox
language sql set search_path = '' as $$
  with due as (
    select id from public.event_outbox
     where delivered_at is null and dead_at is null and available_at <= p_now
       and (p_targets is null or target = any (p_targets))
     order by available_at, id
     for update skip locked
     limit p_limit
  )
  update public.event_outbox o
     set attempts = o.attempts + 1, available_at = p_now + make_interval(secs => p_visibility_seconds)
    from due where o.id = due.id
  returning o.*
$$;

-- Registers an endpoint and returns its signing secret: the only time an owner sees it (the
-- column is readable by the service role alone). Event types: all of them unless named; an
-- unknown one raises 22P02. At most 16 endpoints per owner (54000), as Stripe allows.
create or replace function public.create_webhook_endpoint(
  p_url text, p_event_types text[] default null, p_description text default null,
  p_owner uuid default null
) returns table (id uuid, secret text)
language plpgsql security definer set search_path = '' as $$
declare
  v_owner uuid := public.acting_owner(p_owner);
begin
  -- One owner's endpoints at a time, so that two calls at once cannot pass the cap together.
  perform pg_advisory_xact_lock(hashtextextended('vidpipe.webhook_endpoints:' || v_owner, 0));
  if (select count(*) from public.webhook_endpoints e where e.owner_id = v_owner) >= 16 then
    raise exception 'an owner may have at most 16 webhook endpoints' using errcode = '54000';
  end if;
  return query
    insert into public.webhook_endpoints as e (owner_id, url, event_types, description)
    values (v_owner, p_url, coalesce(p_event_types::public.webhook_event_type[], enum_range(null::public.webhook_event_type)),
            p_description)
    returning e.id, e.secret;
end
$$;

-- Locks, always in this order, so that no two of these functions (or a delete of an endpoint,
-- which locks the endpoint and then its deliveries) wait for each other in a circle: the owner's
-- sending slot (an advisory lock), the endpoint, the delivery.
create function public.lock_delivery(p_id uuid)
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

drop function public.claim_delivery(uuid, text, integer, timestamptz);
-- Takes one delivery for one attempt. One send at a time per endpoint, and at most
-- p_owner_limit per owner, so a slow endpoint holds up only its own owner's deliveries: a
-- delivery that would exceed either waits (a new event for it, due when the blocking send's lease
-- ends; record_attempt wakes it sooner) and comes back with `deferred_until` set and nothing to
-- send. VP410 when it is finished or not yet due (a duplicate event: another one is scheduled),
-- no row when its endpoint is turned off (it is cancelled). Otherwise it returns what the sender
-- needs and the claim's own token (`lease`), which record_attempt takes back.
create function public.claim_delivery(
  p_id uuid, p_worker text, p_lease_seconds integer, p_owner_limit integer default 4,
  p_now timestamptz default now()
) returns table (delivery_id uuid, message_id text, url text, secret text, body jsonb, attempt integer, lease text,
                 deferred_until timestamptz)
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries := public.lock_delivery(p_id);
  v_lease text := p_worker || '/' || left(gen_random_uuid()::text, 8);
  v_wait timestamptz;
begin
  if d.id is null then
    raise exception 'delivery % not found', p_id using errcode = 'VP404';
  end if;
  if d.finished_at is not null then
    raise exception 'delivery % is %', p_id, d.status using errcode = 'VP410';
  end if;
  if d.next_attempt_at > p_now and d.lease_owner is null then
    raise exception 'delivery % is not due before %', p_id, d.next_attempt_at using errcode = 'VP410';
  end if;
  if not exists (select 1 from public.webhook_endpoints e where e.id = d.endpoint_id and e.enabled) then
    update public.webhook_deliveries w
       set status = 'cancelled', finished_at = p_now, last_error = 'the endpoint is turned off',
           lease_owner = null, lease_expires_at = null
     where w.id = p_id;
    return;  -- no row: nothing to send
  end if;
  -- Its own live lease (a sender still at work), the endpoint's other send, or the owner's limit.
  v_wait := case when d.lease_expires_at > p_now then d.lease_expires_at end;
  v_wait := coalesce(v_wait, (select min(w.lease_expires_at) from public.webhook_deliveries w
                               where w.endpoint_id = d.endpoint_id and w.lease_owner is not null
                                 and w.lease_expires_at > p_now and w.id <> d.id));
  if v_wait is null then
    select case when count(*) >= p_owner_limit then min(w.lease_expires_at) end into v_wait
      from public.webhook_deliveries w
     where w.owner_id = d.owner_id and w.lease_owner is not null and w.lease_expires_at > p_now and w.id <> d.id;
  end if;
  if v_wait is not null then
    perform public.enqueue_event('notify', 'UPDATE', 'public', 'webhook_deliveries', to_jsonb(d), null, v_wait, p_now);
    return query select d.id, d.message_id, null::text, null::text, null::jsonb, d.attempts, null::text, v_wait;
    return;
  end if;
  update public.webhook_deliveries w
     set status = 'sending', lease_owner = v_lease, lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
   where w.id = p_id;
  return query
    select d.id, d.message_id, e.url, e.secret, m.payload, d.attempts + 1, v_lease, null::timestamptz
      from public.webhook_endpoints e, public.webhook_messages m
     where e.id = d.endpoint_id and m.id = d.message_id;
end
$$;

-- Records one attempt and decides what follows, in one transaction: delivered on 2xx; on 410 the
-- endpoint is turned off and its open deliveries cancelled; otherwise the next attempt at
-- p_retry_at (the caller's schedule, Retry-After honoured), or failed when p_retry_at is null.
-- An attempt made under a lease that ran out is still recorded (the endpoint did receive it),
-- but decides nothing: the delivery is returned as the current claim left it. Then the oldest
-- delivery waiting for this endpoint (or else for the owner) is woken.
create or replace function public.record_attempt(
  p_id uuid, p_worker text, p_status_code integer, p_error text, p_latency_ms integer, p_response_body text,
  p_retry_at timestamptz, p_now timestamptz default now()
) returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries := public.lock_delivery(p_id);
  m public.webhook_messages;
  v_ok boolean := coalesce(p_status_code between 200 and 299, false);
  v_final boolean := v_ok or p_status_code = 410 or p_retry_at is null;
  v_held boolean;
begin
  if d.id is null then
    raise exception 'delivery % is gone', p_id using errcode = 'VP412';
  end if;
  v_held := d.lease_owner is not distinct from p_worker;
  select * into m from public.webhook_messages where id = d.message_id;
  insert into public.webhook_attempts (delivery_id, endpoint_id, job_id, owner_id, event_type, message_id, attempt,
                                       status_code, error, latency_ms, response_body, created_at)
  values (d.id, d.endpoint_id, m.job_id, d.owner_id, m.event_type, m.id, d.attempts + 1,
          p_status_code, case when v_held then p_error else concat_ws('; ', p_error, 'sent after its lease ran out') end,
          p_latency_ms, left(p_response_body, 500), p_now);
  if not v_held then
    return d;
  end if;
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
  -- A waiting delivery's event is one not yet handed out (attempts = 0) and due later.
  update public.event_outbox set available_at = p_now
   where id = (
     select o.id from public.webhook_deliveries w
       join public.event_outbox o on o.payload -> 'record' ->> 'id' = w.id::text
      where w.owner_id = d.owner_id and w.finished_at is null and w.lease_owner is null and w.next_attempt_at <= p_now
        and o.delivered_at is null and o.dead_at is null and o.target = 'notify' and o.attempts = 0
        and o.available_at > p_now
      order by w.endpoint_id <> d.endpoint_id, w.next_attempt_at, w.created_at
      limit 1);
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
  d := public.lock_delivery(p_id);
  if d.id is null then
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
         'guard_job', 'step_of', 'step_waiting_status', 'step_running_status', 'retry_backoff', 'lock_job', 'lock_delivery',
         'job_changed', 'transition_job', 'create_job', 'claim_step', 'held_job', 'renew_lease', 'record_artifacts',
         'complete_process', 'complete_generate_metadata', 'fail_step', 'requeue_job', 'finish_reingest',
         'enqueue_event', 'job_event_target', 'on_storage_object_created', 'claim_outbox', 'ack_outbox',
         'retry_outbox', 'settle_dead_event', 'announcement_type', 'webhook_payload', 'announce', 'claim_delivery',
         'record_attempt', 'replay_delivery', 'settle_dead_delivery', 'sweep', 'settle_outbox_attempt', 'sign_event',
         'deliver_due_events', 'on_outbox_insert', 'reconcile_event_requests', 'configure_delivery', 'scheduled_jobs',
         'event_secret'])
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', r.f);
    execute format('grant execute on function %s to %s', r.f,
                   case when r.for_owners then 'authenticated, service_role' else 'service_role' end);
  end loop;
end
$$;
