-- vidpipe schema, part 4 of 7: events between the functions. Each change that hands work to a
-- function writes an outbox row in its own transaction, shaped like a Supabase Database Webhook
-- body. A dispatcher (locally) or pg_net + pg_cron (hosted) delivers it; an event that cannot be
-- delivered settles its work, so nothing waits for ever.

-- Writing events ------------------------------------------------------------------------------
-- The table a subject's rows live in: the schema and table of the event's payload.
create function public.subject_table(p_kind public.event_subject, out schema_name text, out table_name text)
language sql immutable set search_path = '' as $$
  select case p_kind when 'storage_object' then 'storage' else 'public' end,
         case p_kind when 'storage_object' then 'objects' when 'job' then 'processing_jobs'
                     when 'webhook_delivery' then 'webhook_deliveries' end
$$;

-- p_record is the subject's row; its id is the event's subject_id.
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

-- The function a job waits for in a status: the step the status belongs to, when the job waits
-- in it (null: none, it is held or finished).
create function public.job_event_target(p_status public.job_status)
returns public.pipeline_function language sql immutable set search_path = '' as $$
  select public.step_of(p_status)::text::public.pipeline_function
   where p_status = public.step_waiting_status(public.step_of(p_status))
$$;

-- Uploads into an ingest bucket start the pipeline. Security definer: the storage service's role
-- performs the insert and has no rights on our tables. The trigger itself is created by the
-- migration (a schema diff does not reach into the storage schema).
create function public.on_storage_object_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from public.ingest_buckets b where b.bucket_id = new.bucket_id) then
    perform public.enqueue_event('ingest', 'INSERT', 'storage_object', to_jsonb(new), null, now(), now());
  end if;
  return null;
end
$$;

-- Delivering events ---------------------------------------------------------------------------
-- The webhook-id both carriers send an event with, and the event a webhook-id names (null when
-- none): notify claims an attempt through its event.
create function public.event_message_id(p_id bigint)
returns text language sql immutable set search_path = '' as $$
  select 'evt_' || p_id
$$;

create function public.outbox_event(p_message_id text)
returns public.event_outbox language sql stable set search_path = '' as $$
  select * from public.event_outbox where id = substring(p_message_id from '^evt_([0-9]{1,18})$')::bigint
$$;

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

create function public.ack_outbox(p_id bigint, p_now timestamptz default now())
returns void language sql set search_path = '' as $$
  update public.event_outbox set delivered_at = p_now where id = p_id and delivered_at is null
$$;

-- A failed delivery is retried with backoff; after p_max_attempts (or when p_permanent, for a 4xx
-- answer) the event is dead and the work it carried is settled.
create function public.retry_outbox(
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
    perform public.settle_dead_event(e, p_permanent, p_now);
  end if;
  return e;
end
$$;

-- One rule for every carrier: what a function's answer to an event means. 2xx: done. 409: another
-- worker holds the step, or the event was handled already: done too. A redirect (3xx) and any
-- other 4xx (but 408 and 429) will not improve by resending: the event is dead at once (a
-- function URL that redirects is a configuration mistake). Anything else (5xx, a timeout, no
-- connection) is retried with backoff until p_max_attempts.
-- p_detail is the answer's body, or what stood for an answer (a timeout, a refused connection).
create function public.settle_outbox_attempt(
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

-- An event that becomes due (a new one, or one woken early) goes out at once, after its
-- transaction commits, rather than at the next reconcile. Sending never fails the change that made
-- it due (pg_net's worker may be down): the event stays due, and the reconciler sends it.
create function public.send_due_events() returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform public.deliver_due_events(now());
exception when others then
  raise warning 'vidpipe: sending events failed, the reconciler will: %', sqlerrm;
end
$$;

create function public.on_outbox_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform public.send_due_events();
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
-- Values left null keep what the row holds; the rest of the policy (batch, visibility, backoff) is
-- changed with an update of delivery_settings.
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

-- Whether events can flow, in words a Supabase user can act on: one row a part (the carrier, pg_net's
-- worker, the event secret, each pg_cron job), whether it is ok, and what to do when it is not.
-- pg_net's worker connects to the one database pg_net.database_name names and shows itself in
-- pg_stat_activity (backend_type and application_name "pg_net …"); pg_cron records each run.
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

-- What pg_cron runs (the migration schedules each by name): the sweeper, and the reconciliation of
-- the database's own deliveries.
create function public.scheduled_jobs()
returns table (name text, command text)
language sql immutable set search_path = '' as $$
  values ('vidpipe-sweep', 'select count(*) from public.sweep()'),
         ('vidpipe-deliver', 'select public.reconcile_event_requests()')
$$;

-- The work of a dead event ends visibly: an upload becomes a failed job, a job waiting for a step
-- fails, a webhook delivery fails. The reason says which: event_rejected for a 4xx answer,
-- retries_exhausted otherwise.
create function public.settle_dead_event(e public.event_outbox, p_permanent boolean, p_now timestamptz)
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
