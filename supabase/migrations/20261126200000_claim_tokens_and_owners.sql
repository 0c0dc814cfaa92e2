-- vidpipe: hardening. Every claim of a step or a delivery holds its own token, so no run can
-- complete another run's claim; endpoint management decides by the API role, never by a missing
-- claim; an upload must name its uploader as its owner; API roles get no REFERENCES or TRIGGER on
-- tables made later. The same change as supabase/schemas/ (30_state_machine, 50_webhooks, 70_security).

-- Compare-and-set: only from the step's waiting status, only when the retry is due and attempts
-- remain. The attempt is counted at claim time, so a worker that dies still spends one. Each claim
-- holds its own token (the worker, then a random part, in lease_owner): renewals and completions
-- present it, so no run can complete another run's claim, even in the same process.
create or replace function public.claim_step(
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

drop function public.claim_delivery(uuid, text, integer, timestamptz);
-- Takes one delivery for one attempt: VP410 when it is finished (a duplicate event), VP409 while
-- another worker's lease is live, no row when its endpoint is turned off (it is cancelled).
-- Returns what the sender needs: the endpoint, the body, and the claim's own token (`lease`), which
-- record_attempt takes back, so no other run can record this attempt.
create function public.claim_delivery(
  p_id uuid, p_worker text, p_lease_seconds integer, p_now timestamptz default now()
) returns table (delivery_id uuid, message_id text, url text, secret text, body jsonb, attempt integer, lease text)
language plpgsql set search_path = '' as $$
declare
  d public.webhook_deliveries;
  v_lease text := p_worker || '/' || left(gen_random_uuid()::text, 8);
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
     set status = 'sending', lease_owner = v_lease, lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
   where w.id = p_id;
  return query
    select d.id, d.message_id, e.url, e.secret, m.payload, d.attempts + 1, v_lease
      from public.webhook_endpoints e, public.webhook_messages m
     where e.id = d.endpoint_id and m.id = d.message_id;
end
$$;

-- Who is calling: an owner signed in through the API, or the service side acting for p_owner. The
-- API role decides (PostgREST's SET ROLE, which security definer functions do not change), never a
-- missing claim: an API user without a `sub` is nobody, not the service role.
create or replace function public.acting_owner(p_owner uuid) returns uuid
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

alter default privileges in schema public revoke references, trigger on tables from anon, authenticated;

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
         'guard_job', 'step_of', 'step_waiting_status', 'step_running_status', 'retry_backoff', 'lock_job',
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

-- =============================================================================================
-- Platform steps
-- =============================================================================================

-- An upload names no owner but its uploader (in `owner_id`, or the older `owner`): no one files a
-- video under someone else's name. Storage sets them from the token's `sub`.
drop policy vidpipe_owner_uploads on storage.objects;
create policy vidpipe_owner_uploads on storage.objects for insert to authenticated
  with check (public.is_ingest_bucket(bucket_id) and split_part(name, '/', 1) = (select auth.uid())::text
              and (owner is null or owner = (select auth.uid()))
              and (owner_id is null or owner_id = (select auth.uid())::text));
