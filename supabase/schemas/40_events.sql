-- vidpipe schema, part 4 of 7: events between the functions. Each change that hands work to a
-- function writes an outbox row in its own transaction, shaped like a Supabase Database Webhook
-- body. A dispatcher (locally) or pg_net + pg_cron (hosted) delivers it; an event that cannot be
-- delivered settles its work, so nothing waits for ever.

-- Writing events ------------------------------------------------------------------------------
create function public.enqueue_event(
  p_target public.pipeline_function, p_type text, p_schema text, p_table text, p_record jsonb, p_old_record jsonb,
  p_available_at timestamptz, p_now timestamptz
) returns bigint
language plpgsql set search_path = '' as $$
declare
  v_id bigint;
begin
  insert into public.event_outbox (target, payload, available_at, created_at)
  values (p_target,
          jsonb_build_object('type', p_type, 'table', p_table, 'schema', p_schema,
                             'record', p_record, 'old_record', p_old_record),
          p_available_at, p_now)
  returning id into v_id;
  perform pg_notify('vidpipe_outbox', p_target::text);
  return v_id;
end
$$;

-- The function a job waits for in a status (null: none, it is held or finished).
create function public.job_event_target(p_status public.job_status)
returns public.pipeline_function language sql immutable set search_path = '' as $$
  select case p_status when 'queued' then 'process'::public.pipeline_function
                       when 'processed' then 'generate_metadata'::public.pipeline_function end
$$;

-- Uploads into an ingest bucket start the pipeline. Security definer: the storage service's role
-- performs the insert and has no rights on our tables. The trigger itself is created by the
-- migration (a schema diff does not reach into the storage schema).
create function public.on_storage_object_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select from public.ingest_buckets b where b.bucket_id = new.bucket_id) then
    perform public.enqueue_event('ingest', 'INSERT', 'storage', 'objects', to_jsonb(new), null, now(), now());
  end if;
  return null;
end
$$;

-- Delivering events ---------------------------------------------------------------------------
-- Claims due events; each stays invisible to other dispatchers for p_visibility_seconds, so an
-- event whose dispatcher died becomes due again by itself.
create function public.claim_outbox(p_limit integer, p_visibility_seconds integer, p_now timestamptz default now())
returns setof public.event_outbox
language sql set search_path = '' as $$
  with due as (
    select id from public.event_outbox
     where delivered_at is null and dead_at is null and available_at <= p_now
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
  v_id uuid;
  o record;
  j public.processing_jobs;
begin
  if coalesce(e.payload -> 'record' ->> 'id', '') !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
    return;
  end if;
  v_id := (e.payload -> 'record' ->> 'id')::uuid;
  if e.payload ->> 'table' = 'webhook_deliveries' then
    perform public.settle_dead_delivery(v_id, coalesce(e.last_error, 'no detail'), p_now);
  elsif e.target = 'ingest' then
    select so.id, so.bucket_id, so.name, so.metadata, u.id as owner into o
      from storage.objects so left join auth.users u on u.id = so.owner
     where so.id = v_id;
    if found then
      perform public.create_job(
        o.id, o.owner, o.bucket_id, o.name,
        case when o.metadata ->> 'size' ~ '^[0-9]{1,18}$' then (o.metadata ->> 'size')::bigint end,
        o.metadata ->> 'mimetype', p_reason => v_reason, p_message => v_message, p_now => p_now);
    end if;
  else
    select * into j from public.processing_jobs where id = v_id for update;
    -- gone, or moved on (a worker holding it is the lease's business)
    if found and j.status = public.step_waiting_status(e.target::text::public.job_step) then
      perform public.transition_job(j.id, 'failed', p_now, v_reason, v_message);
    end if;
  end if;
end
$$;
