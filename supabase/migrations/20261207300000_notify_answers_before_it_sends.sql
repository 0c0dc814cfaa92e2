-- vidpipe: notify answers its carrier before it sends, and a function at capacity is not an attempt.
-- A customer's endpoint may take the whole webhook timeout (15 s) to answer, and pg_net waits for
-- every request of a batch before it sends the next: notify now claims the attempt, answers 202
-- and sends after the answer, like the long steps. The claim is the delivery's own
-- (sending_until) instead of its event's, since the event is acknowledged at once; a sender that
-- stops mid-send leaves the claim to run out, and the sweeper counts the attempt and sends again
-- (webhook_sender_lost). A 429 from a function (all its slots busy, or Cloud Run's instance limit)
-- reschedules the event in 2-4 s without counting an attempt. Every function now answers within
-- seconds, so a carrier waits 60 s for an answer, not 1,900 s. The same change as
-- supabase/schemas/ (20_tables, 40_events, 50_webhooks, 60_sweeper, 70_security).

alter table public.webhook_deliveries add column sending_until timestamptz;
-- A send in flight keeps the end of its event's claim.
update public.webhook_deliveries d
   set sending_until = coalesce((select greatest(o.available_at, now()) from public.event_outbox o
                                  where o.id = d.sending_event), now())
 where d.status = 'sending';
alter table public.webhook_deliveries drop constraint webhook_deliveries_sending_claim;
alter table public.webhook_deliveries add constraint webhook_deliveries_sending_claim
  check ((status = 'sending') = (sending_event is not null) and (sending_event is null) = (sending_round is null)
         and (sending_event is null) = (sending_until is null));

alter table public.delivery_settings alter column timeout_ms set default 60000;
update public.delivery_settings set timeout_ms = 60000 where timeout_ms = 1900000;

-- Delivering ----------------------------------------------------------------------------------
-- The outbox is the one queue: each attempt is an outbox event for notify. notify claims the
-- attempt, answers its carrier and then sends, so the claim is held on the delivery
-- (sending_until), not by the event. When it ends: the end of the claim, or null when nothing is
-- in flight (recorded, or the claim ran out because its sender stopped).
create or replace function public.webhook_sending_until(d public.webhook_deliveries, p_now timestamptz)
returns timestamptz
language sql stable set search_path = '' as $$
  select d.sending_until where d.status = 'sending' and d.sending_until > p_now
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
create or replace function public.claim_webhook_delivery(
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
create or replace function public.record_webhook_attempt(
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
create or replace function public.replay_webhook_delivery(p_id uuid, p_now timestamptz default now())
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

create or replace function public.fail_webhook_delivery(p_id uuid, p_message text, p_now timestamptz)
returns void
language sql set search_path = '' as $$
  update public.webhook_deliveries
     set status = 'failed', finished_at = p_now, sending_event = null, sending_round = null, sending_until = null,
         last_error = format('the notify function could not take the delivery: %s', p_message)
   where id = p_id and finished_at is null
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

-- vidpipe schema, part 6 of 7: the sweeper. Run every few seconds (the dispatcher locally,
-- pg_cron on hosted Supabase); it never waits on a locked job (a webhook delivery's lock is held
-- only while an attempt is claimed or recorded). It rescues work whose worker died or whose event
-- was lost, and keeps the event tables small.
-- subject_id is a job id, a storage object id for `ingest_reemitted`, or a webhook delivery id for
-- `webhook_resent` and `webhook_failed`.
create or replace function public.sweep(p_now timestamptz default now(), p_stale_seconds integer default 120)
returns table (subject_id uuid, action text)
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  obj storage.objects;
  d public.webhook_deliveries;
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

  -- 4. A customer webhook whose send's claim ran out with nothing recorded and no event on its way:
  --    its sender stopped after answering its carrier. Locked in the order recording locks
  --    (webhook_sender_lost), so the rows are read here without a lock.
  for d in select * from public.webhook_deliveries w
            where w.status = 'sending' and w.sending_until < p_now
              and not exists (
                select from public.event_outbox o
                 where o.delivered_at is null and o.dead_at is null and o.subject_kind = 'webhook_delivery'
                   and o.subject_id = w.id)
            limit 100 loop
    d := public.webhook_sender_lost(d.id, p_now);
    if d.id is not null then
      subject_id := d.id; action := case when d.status = 'failed' then 'webhook_failed' else 'webhook_resent' end;
      return next;
    end if;
  end loop;

  -- 5. Housekeeping: receipts older than any signature that still verifies, and delivered events
  --    after a week (job_events keeps the history; dead events stay for an operator to read).
  delete from public.event_receipts where received_at < p_now - interval '10 minutes';
  delete from public.event_outbox where delivered_at < p_now - interval '7 days';
end
$$;

-- One rule for every carrier: what a function's answer to an event means. 2xx: done. 409: another
-- worker holds the step, or the event was handled already: done too. A redirect (3xx) and any
-- other 4xx (but 408 and 429) will not improve by resending: the event is dead at once (a
-- function URL that redirects is a configuration mistake). Anything else (5xx, a timeout, no
-- connection) is retried with backoff until p_max_attempts.
-- p_detail is the answer's body, or what stood for an answer (a timeout, a refused connection).
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
  v_permanent boolean := p_status_code between 300 and 499 and p_status_code <> 408;
begin
  if p_status_code between 200 and 299 or p_status_code = 409 then
    perform public.ack_outbox(p_id, p_now);
    return 'ack';
  end if;
  if p_status_code = 429 then
    -- The function is at capacity (all its instances' slots, or Cloud Run's instance limit): it
    -- took nothing, so the attempt is not counted and the event is sent again in 2-4 s, by when
    -- a slot may be free or another instance up. A burst larger than the deployment waits its
    -- turn instead of running out of attempts.
    update public.event_outbox
       set attempts = greatest(attempts - 1, 0), last_error = v_error,
           available_at = p_now + make_interval(secs => 2 + 2 * random())
     where id = p_id and delivered_at is null;
    return 'busy';
  end if;
  return case when (public.retry_outbox(p_id, v_error, p_max_attempts, v_permanent, p_now)).dead_at is null
              then 'retry' else 'dead' end;
end
$$;

revoke execute on function public.webhook_sender_lost(uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.webhook_sender_lost(uuid, timestamptz) to service_role;
