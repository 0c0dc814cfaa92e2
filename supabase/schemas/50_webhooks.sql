-- vidpipe schema, part 5 of 7: customer webhooks, delivered like Svix and Stripe do. Each job
-- event becomes one message (its id is the webhook-id, stable across retries); each message goes
-- to every enabled endpoint of the owner that wants its type as one delivery with its own retry
-- schedule; every HTTP attempt is logged. It is all written in the transaction of the status
-- change, and every attempt is an outbox event for `notify`, so nothing is lost when a process dies.

-- Endpoints, managed by owners over the API and by operators with the service role -------------
-- Who is calling: an owner signed in through the API, or the service side acting for p_owner. The
-- API role decides (PostgREST's SET ROLE, which security definer functions do not change), never a
-- missing claim: an API user without a `sub` is nobody, not the service role.
create function public.acting_owner(p_owner uuid) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_uid uuid := auth.uid();
begin
  if current_setting('role', true) in ('anon', 'authenticated') then
    if v_uid is null then
      raise exception 'sign in to manage webhook endpoints' using errcode = '42501';
    end if;
    if p_owner is not null and p_owner <> v_uid then
      raise exception 'an owner may manage only their own endpoints' using errcode = '42501';
    end if;
    return v_uid;
  end if;
  if p_owner is null then
    raise exception 'no owner: name the owner as the service role' using errcode = '22023';
  end if;
  return p_owner;
end
$$;

-- Registers an endpoint and returns its signing secret: the only time an owner sees it (the
-- column is readable by the service role alone). Event types: all of them unless named; an
-- unknown one raises 22P02. At most 16 endpoints per owner (54000), as Stripe allows.
create function public.create_webhook_endpoint(
  p_url text, p_event_types text[] default null, p_description text default null,
  p_owner uuid default null
) returns table (id uuid, secret text)
language plpgsql security definer set search_path = '' as $$
declare
  v_owner uuid := public.acting_owner(p_owner);
  v_rule text;
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
exception when check_violation or not_null_violation then
  -- The error's detail would show the refused row, the secret made for it included: say which
  -- rule the endpoint breaks, nothing more.
  get stacked diagnostics v_rule = constraint_name;
  raise exception '%', case v_rule
      when 'webhook_endpoints_url_plain' then
        'the URL must be http(s)://host/path, without credentials or spaces, at most 2048 characters'
      when 'webhook_endpoints_description_length' then 'the description is over 500 characters'
      when 'webhook_endpoints_event_types_given' then 'name at least one event type'
      else 'the endpoint is not valid (' || coalesce(nullif(v_rule, ''), 'a required value is missing') || ')' end
    using errcode = '23514';
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
      'progress', case when j.status = 'ready' then jsonb_build_object('stage', 'ready', 'percent', 100)
                       when j.progress_stage is not null then jsonb_build_object(
                         'stage', j.progress_stage, 'done', j.progress_done, 'total', j.progress_total,
                         'unit', j.progress_unit, 'percent', floor(100 * j.progress_done / j.progress_total)) end,
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
    perform public.enqueue_event('notify', 'INSERT', 'webhook_delivery', to_jsonb(d), null, p_now, p_now);
  end loop;
  return v_id;
end
$$;

-- Delivering ----------------------------------------------------------------------------------
-- The outbox is the one queue: each attempt is an outbox event for notify. notify claims the
-- attempt, answers its carrier and then sends, so the claim is held on the delivery
-- (sending_until), not by the event. When it ends: the end of the claim, or null when nothing is
-- in flight (recorded, or the claim ran out because its sender stopped).
create function public.webhook_sending_until(d public.webhook_deliveries, p_now timestamptz)
returns timestamptz
language sql stable set search_path = '' as $$
  select d.sending_until where d.status = 'sending' and d.sending_until > p_now
$$;

-- Locks, always in this order, so that no two of these functions (or a delete of an endpoint,
-- which locks the endpoint and then its deliveries) wait for each other in a circle: the owner's
-- sending slot (an advisory lock), the endpoint, the delivery, then its event.
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

-- Takes delivery p_id for one attempt, carried by the event the carrier sent as p_message_id. One
-- send at a time per endpoint, and at most p_owner_limit per owner, so a slow endpoint holds up
-- only its own owner's deliveries: a delivery that would exceed either waits (a new event for it,
-- due when the blocking send's claim ends; record_webhook_attempt wakes it sooner) and comes back
-- with `deferred_until` set and nothing to send. VP404 when the event does not carry this
-- delivery; VP410 when the delivery is finished or not yet due (a duplicate event: another one is
-- scheduled); no row when its endpoint is turned off (it is cancelled). Otherwise the delivery is
-- claimed for p_claim_seconds, the time the send may take, and this returns what the sender needs
-- and the claim (`claim`: the event and its round), which record_webhook_attempt takes back.
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
           sending_event = null, sending_round = null, sending_until = null
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
  update public.webhook_deliveries w
     set status = 'sending', sending_event = e.id, sending_round = e.attempts,
         sending_until = p_now + make_interval(secs => p_claim_seconds)
   where w.id = p_id;
  return query
    select d.id, d.message_id, ep.url, ep.secret, m.payload, d.attempts + 1, e.id || '/' || e.attempts,
           null::timestamptz
      from public.webhook_endpoints ep, public.webhook_messages m
     where ep.id = d.endpoint_id and m.id = d.message_id;
end
$$;

-- Records one attempt and decides what follows, in one transaction: delivered on 2xx; on 410 the
-- endpoint is turned off and its open deliveries cancelled; otherwise the next attempt at
-- p_retry_at (the caller's schedule, Retry-After honoured), or failed when p_retry_at is null.
-- An attempt made under a claim that is no longer the delivery's (it was claimed again after the
-- claim ran out) is still recorded, since the endpoint did receive it, but decides nothing:
-- the delivery is returned as the current claim left it. Then the oldest delivery waiting for
-- this endpoint (or else for the owner) is woken.
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
           sending_event = null, sending_round = null, sending_until = null
     where endpoint_id = d.endpoint_id and finished_at is null and id <> d.id;
  end if;
  update public.webhook_deliveries w
     set attempts = w.attempts + 1, sending_event = null, sending_round = null, sending_until = null,
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

-- Sends a delivery again from the start of its schedule (the same webhook-id: receivers that
-- already have it drop it). Any state but an attempt in flight; the attempt log keeps the
-- earlier attempts.
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
         delivered_at = null, sending_event = null, sending_round = null, sending_until = null
   where id = p_id
  returning * into d;
  perform public.enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, p_now, p_now);
  return d;
end
$$;

-- A delivery whose outbox event died (notify unreachable or refusing it) fails with that reason
-- instead of waiting for ever.
-- A send whose claim ran out with nothing recorded: its sender stopped after its carrier had the
-- answer (notify answers before it sends). The attempt counts, as the endpoint may have had it;
-- the delivery is sent again at once, or fails once the carriers' attempts (delivery_settings) are
-- spent, so a sender that keeps dying cannot keep a delivery open.
create function public.webhook_sender_lost(p_id uuid, p_now timestamptz default now())
returns public.webhook_deliveries
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries := public.lock_webhook_delivery(p_id);
  v_error text := 'the sender stopped before it recorded an answer';
  v_final boolean;
begin
  if d.id is null or d.status <> 'sending' or d.sending_until > p_now then
    return null;  -- gone, recorded meanwhile, or claimed again: nothing was lost
  end if;
  v_final := d.attempts + 1 >= (select s.max_attempts from public.delivery_settings s);
  insert into public.webhook_attempts (delivery_id, endpoint_id, job_id, owner_id, event_type, message_id, attempt,
                                       error, created_at)
  select d.id, d.endpoint_id, m.job_id, d.owner_id, m.event_type, m.id, d.attempts + 1, v_error, p_now
    from public.webhook_messages m where m.id = d.message_id;
  update public.webhook_deliveries w
     set attempts = w.attempts + 1, sending_event = null, sending_round = null, sending_until = null,
         last_status_code = null, last_error = v_error,
         status = case when v_final then 'failed' else 'pending' end::public.webhook_delivery_status,
         finished_at = case when v_final then p_now end, next_attempt_at = p_now
   where w.id = p_id
  returning * into d;
  if not v_final then
    perform public.enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, p_now, p_now);
  end if;
  return d;
end
$$;

create function public.fail_webhook_delivery(p_id uuid, p_message text, p_now timestamptz)
returns void
language sql set search_path = '' as $$
  update public.webhook_deliveries
     set status = 'failed', finished_at = p_now, sending_event = null, sending_round = null, sending_until = null,
         last_error = format('the notify function could not take the delivery: %s', p_message)
   where id = p_id and finished_at is null
$$;

-- Each attempt is news for whoever watches the job (public.notify_job_event, channel vidpipe_jobs).
create trigger webhook_attempt_notify after insert on public.webhook_attempts
  for each row execute function public.notify_job_event();
