-- vidpipe: owners retry within limits, and a refused webhook endpoint shows no secret. retry_job
-- had no cap: an owner could rerun ingest and re-announce a job without end; now owner_limits
-- (one row) caps retries per job and per hour, counted in owner_retries. create_webhook_endpoint
-- refused a bad URL with the row in the error's detail, the secret made for it included. The
-- same change as supabase/schemas/ (20_tables, 30_state_machine, 50_webhooks, 70_security).
-- What owners may ask of the pipeline themselves -------------------------------------------------
-- One row, which operators change with an update: how often an owner may retry a failed job
-- (retry_job) in all, and in an hour across their jobs. Each retry runs ingest again and
-- announces again.
create table public.owner_limits (
  singleton boolean primary key default true constraint one_row check (singleton),
  retries_per_job integer not null default 3 check (retries_per_job >= 0),
  retries_per_hour integer not null default 10 check (retries_per_hour >= 0),
  updated_at timestamptz not null default now()
);
comment on table public.owner_limits is 'How often owners may retry their failed jobs (retry_job). One row.';
insert into public.owner_limits default values;

create table public.owner_retries (
  id bigint generated always as identity primary key,
  job_id uuid not null references public.processing_jobs (id) on delete cascade,
  owner_id uuid not null,
  requested_at timestamptz not null default now()
);
comment on table public.owner_retries is 'Every retry an owner asked for (retry_job), counted against owner_limits.';
create index owner_retries_owner on public.owner_retries (owner_id, requested_at);
create index owner_retries_job on public.owner_retries (job_id);

alter table public.owner_limits enable row level security;
alter table public.owner_retries enable row level security;
create policy owner_reads on public.owner_retries for select to authenticated
  using (owner_id = (select auth.uid()));
revoke insert, update, delete, truncate, references, trigger on public.owner_limits, public.owner_retries
  from public, anon, authenticated;
revoke select on public.owner_limits, public.owner_retries from anon;
grant all on public.owner_limits, public.owner_retries to service_role;

create or replace function public.retry_job(p_job uuid) returns public.processing_jobs
language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := auth.uid();
  v_now timestamptz := now();
  v_limits public.owner_limits;
  v_job_retries integer;
  v_last_hour integer;
  j public.processing_jobs;
begin
  if v_uid is null then
    raise exception 'sign in to retry a job' using errcode = '42501';
  end if;
  perform from public.processing_jobs where id = p_job and owner_id = v_uid;
  if not found then
    raise exception 'job % not found', p_job using errcode = 'VP404';
  end if;
  -- One owner's retries at a time, so that retries at once cannot pass the limits together.
  perform pg_advisory_xact_lock(hashtextextended('vidpipe.owner_retries:' || v_uid, 0));
  select * into strict v_limits from public.owner_limits;
  select count(*) filter (where r.job_id = p_job), count(*) filter (where r.requested_at > v_now - interval '1 hour')
    into v_job_retries, v_last_hour
    from public.owner_retries r where r.owner_id = v_uid;
  if v_job_retries >= v_limits.retries_per_job then
    raise exception 'job % was retried % times, the most an owner may', p_job, v_job_retries using errcode = 'VP429';
  end if;
  if v_last_hour >= v_limits.retries_per_hour then
    raise exception 'at most % retries an hour; try again later', v_limits.retries_per_hour using errcode = 'VP429';
  end if;
  j := public.requeue_job(p_job, v_now);  -- nothing to retry (VP410, VP409): nothing is counted
  insert into public.owner_retries (job_id, owner_id, requested_at) values (p_job, v_uid, v_now);
  return j;
end
$$;

create or replace function public.create_webhook_endpoint(
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
