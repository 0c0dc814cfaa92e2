-- vidpipe: the database delivers outbox events itself, through pg_net, where a project has it;
-- the dispatcher and the database share one rule for what an answer means (settle_outbox_attempt).
-- The same change as supabase/schemas/ (10_types, 20_tables, 40_events, 70_security).

-- pgcrypto signs the events the database sends itself (Supabase keeps it in `extensions`).
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

create type public.delivery_carrier as enum (
  'dispatcher',  -- a process of ours reads the outbox and POSTs (infra/dispatcher.py): the local stack
  'pg_net'       -- the database POSTs through pg_net and reconciles with pg_cron: no server of ours
);
comment on type public.delivery_carrier is 'What carries outbox events to the functions.';

-- How events reach the functions when the database sends them itself (pg_net), one row. The
-- event secret signs them (Standard Webhooks); it is kept here only where Supabase Vault is absent.
create table public.delivery_settings (
  singleton boolean primary key default true constraint one_row check (singleton),
  carrier public.delivery_carrier not null default 'dispatcher',
  function_urls jsonb not null default '{}'::jsonb   -- {"ingest": "https://…", "process": …}
    constraint urls_by_function check (jsonb_typeof(function_urls) = 'object'),
  event_secret text constraint secret_is_standard check (event_secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  timeout_ms integer not null default 1900000 check (timeout_ms > 0),  -- one call: the slowest step
  max_attempts integer not null default 8 check (max_attempts > 0),    -- deliveries before an event is dead
  visibility_seconds integer not null default 60 check (visibility_seconds > 0),
  batch integer not null default 50 check (batch > 0),
  updated_at timestamptz not null default now()
);
comment on table public.delivery_settings is
  'Where the database sends outbox events through pg_net, and the secret that signs them. Set with configure_delivery.';

-- The pg_net requests carrying outbox events, until their answers are reconciled. pg_net keeps no
-- retries and its tables are unlogged, so the outbox stays the record: a lost request only
-- means the event becomes due again when its visibility ends.
create table public.event_requests (
  request_id bigint primary key,    -- net.http_post's id: the row of net._http_response to read
  event_id bigint not null references public.event_outbox (id) on delete cascade,
  sent_at timestamptz not null default now()
);
comment on table public.event_requests is 'pg_net requests in flight, one per outbox event sent.';
create index event_requests_event on public.event_requests (event_id);

-- One rule for every carrier: what a function's answer to an event means. 2xx: done. 409: another
-- worker holds the step, or the event was handled already: done too. Any other 4xx (but 408 and
-- 429) will not improve by resending: the event is dead at once. Anything else (5xx, a timeout,
-- no connection) is retried with backoff until p_max_attempts.
-- p_detail is the answer's body, or what stood for an answer (a timeout, a refused connection).
create function public.settle_outbox_attempt(
  p_id bigint, p_status_code integer, p_detail text, p_max_attempts integer, p_now timestamptz default now()
) returns text
language plpgsql set search_path = '' as $$
declare
  v_error text := case when p_status_code is null then coalesce(p_detail, 'no answer')
                       else rtrim(format('HTTP %s: %s', p_status_code, left(p_detail, 300)), ': ') end;
  v_permanent boolean := p_status_code between 400 and 499 and p_status_code not in (408, 429);
begin
  if p_status_code between 200 and 299 or p_status_code = 409 then
    perform public.ack_outbox(p_id, p_now);
    return 'ack';
  end if;
  return case when (public.retry_outbox(p_id, v_error, p_max_attempts, v_permanent, p_now)).dead_at is null
              then 'retry' else 'dead' end;
end
$$;

-- Delivery by the database itself (pg_net) ---------------------------------------------------------
-- Everything below needs pg_net only when it runs, and checks for it first: the schema applies
-- where pg_net is absent, and the dispatcher carries the events there.

-- Standard Webhooks signature over exactly the text pg_net sends: the jsonb's ::text.
create function public.sign_event(p_secret text, p_id text, p_timestamp bigint, p_body text)
returns text
language sql immutable set search_path = '' as $$
  select 'v1,' || encode(extensions.hmac(convert_to(p_id || '.' || p_timestamp || '.' || p_body, 'UTF8'),
                                         decode(substr(p_secret, 7), 'base64'), 'sha256'), 'base64')
$$;

-- The secret that signs the events: in Supabase Vault where the project has it (encrypted at rest),
-- otherwise in delivery_settings. Either way only the service side reads it.
create function public.event_secret()
returns text
language plpgsql stable security definer set search_path = '' as $$
declare
  v_secret text;
begin
  if to_regclass('vault.decrypted_secrets') is not null then
    select decrypted_secret into v_secret from vault.decrypted_secrets where name = 'vidpipe_event_secret';
  end if;
  return coalesce(v_secret, (select event_secret from public.delivery_settings));
end
$$;

-- Sends the due events (up to the batch) to their functions with net.http_post, signed, and
-- remembers each request so that reconcile_event_requests can read its answer. pg_net sends after
-- the calling transaction commits, and nothing if it rolls back.
create function public.deliver_due_events(p_now timestamptz default now())
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
    v_id := 'evt_' || e.id;
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

-- A new event goes out at once (after its transaction commits) rather than at the next reconcile.
-- Sending never fails the change that wrote the event (pg_net's worker may be down): the event
-- stays due, and the reconciler sends it.
create function public.on_outbox_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  begin
    perform public.deliver_due_events(now());
  exception when others then
    raise warning 'vidpipe: sending events failed, the reconciler will: %', sqlerrm;
  end;
  return null;
end
$$;

create trigger event_outbox_send after insert on public.event_outbox
  for each statement execute function public.on_outbox_insert();

-- Reads pg_net's answers (net._http_response) to the requests in flight and settles each event by
-- the one rule; requests whose answer pg_net lost (its tables are unlogged, answers expire after
-- pg_net.ttl) are forgotten after a day: their events became due again when their visibility ended.
-- Then sends what is due. pg_cron runs this every few seconds.
create function public.reconcile_event_requests(p_now timestamptz default now())
returns integer
language plpgsql security definer set search_path = '' as $$
declare
  s public.delivery_settings;
  r record;
  v_settled integer := 0;
begin
  select * into s from public.delivery_settings;
  if to_regclass('net._http_response') is null then
    return 0;
  end if;
  for r in select q.request_id, q.event_id, a.status_code,
                  case when a.timed_out then format('timed out after %s ms', s.timeout_ms)
                       else coalesce(a.error_msg, a.content) end as detail
             from public.event_requests q join net._http_response a on a.id = q.request_id
            order by q.request_id
              for update of q skip locked loop
    perform public.settle_outbox_attempt(r.event_id, r.status_code, r.detail, s.max_attempts, p_now);
    delete from public.event_requests where request_id = r.request_id;
    v_settled := v_settled + 1;
  end loop;
  delete from public.event_requests where sent_at < p_now - interval '1 day';
  perform public.deliver_due_events(p_now);
  return v_settled;
end
$$;

-- One documented call sets it all up (the service role, or the SQL editor):
--   select public.configure_delivery('pg_net', '{"ingest": "https://…", "process": …}', 'whsec_…');
create function public.configure_delivery(
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
  select string_agg(u.key, ', ') into v_bad from jsonb_each(coalesce(p_function_urls, '{}'::jsonb)) u
   where u.key not in (select unnest(enum_range(null::public.pipeline_function))::text)
      or jsonb_typeof(u.value) <> 'string' or (u.value #>> '{}') !~ '^https?://\S+$';
  if v_bad is not null then
    raise exception 'not a function name with an http(s) URL: %', v_bad using errcode = '22023';
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
  insert into public.delivery_settings as d (carrier, function_urls, event_secret, timeout_ms, max_attempts, updated_at)
  values (p_carrier, coalesce(p_function_urls, '{}'::jsonb), case when not v_in_vault then p_event_secret end,
          coalesce(p_timeout_ms, 1900000), coalesce(p_max_attempts, 8), p_now)
  on conflict (singleton) do update
    set carrier = excluded.carrier,
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
  return s;
end
$$;

-- What pg_cron runs (the migration schedules each by name): the sweeper, and the reconciliation of
-- the database's own deliveries.
create function public.scheduled_jobs()
returns table (name text, command text)
language sql immutable set search_path = '' as $$
  values ('vidpipe-sweep', 'select count(*) from public.sweep()'),
         ('vidpipe-deliver', 'select public.reconcile_event_requests()')
$$;

-- Security ----------------------------------------------------------------------------------------
alter table public.delivery_settings enable row level security;
alter table public.event_requests enable row level security;
revoke insert, update, delete, truncate, references, trigger on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts, public.job_transitions,
  public.delivery_settings, public.event_requests
  from public, anon, authenticated;
revoke select on public.delivery_settings, public.event_requests from anon, authenticated;
grant all on public.delivery_settings, public.event_requests to service_role;

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

-- The buckets the pipeline uses, which `db push` would not make (it does not run seed.sql). No
-- size limit of their own: a bucket may not exceed the project's global upload limit (Storage
-- settings; 50 MB on a new project), so they follow it.
do $$
begin
  if to_regclass('storage.buckets') is not null then
    insert into storage.buckets (id, name, public) values ('uploads', 'uploads', false), ('derived', 'derived', false)
    on conflict (id) do nothing;
    insert into public.ingest_buckets (bucket_id) values ('uploads') on conflict do nothing;
  end if;
end
$$;

-- pg_cron runs the sweeper and the reconciliation of pg_net's answers: every 10 seconds where it
-- takes seconds (1.5 and later, as on Supabase), every minute before. cron.schedule upserts by name.
do $$
declare
  v_version int[];
  j record;
begin
  select string_to_array(substring(extversion from '^[0-9]+\.[0-9]+'), '.')::int[] into v_version
    from pg_extension where extname = 'pg_cron';
  if v_version is null then
    -- On a Supabase project nothing else would run the sweeper and the delivery: stop the push.
    if exists (select from pg_roles where rolname = 'supabase_admin') then
      raise exception 'pg_cron is not enabled: enable pg_cron (and pg_net) under Database → Extensions, '
                      'then run `supabase db push` again';
    end if;
    raise notice 'pg_cron is not installed: the dispatcher runs public.sweep() instead';
    return;
  end if;
  for j in select * from public.scheduled_jobs() loop
    perform cron.schedule(j.name, case when v_version >= array[1, 5] then '10 seconds' else '* * * * *' end, j.command);
  end loop;
end
$$;
