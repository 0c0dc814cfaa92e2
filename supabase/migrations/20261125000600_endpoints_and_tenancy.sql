-- vidpipe: customers' webhook endpoints managed through SQL functions (owners over the API,
-- operators with the service role), uploads confined to the uploader's own folder, and job
-- status on Supabase Realtime.

-- Endpoints ------------------------------------------------------------------------------------
alter table public.webhook_endpoints
  add column if not exists description text,
  add column if not exists disabled_reason text,     -- why the pipeline turned it off, e.g. HTTP 410
  add column if not exists updated_at timestamptz not null default now();
alter table public.webhook_endpoints
  alter column event_types set default array['video.ingested', 'video.processed', 'video.ready', 'video.failed'];
alter table public.webhook_endpoints drop constraint if exists webhook_endpoints_event_types_known;
alter table public.webhook_endpoints add constraint webhook_endpoints_event_types_known
  check (cardinality(event_types) > 0
         and event_types <@ array['video.ingested', 'video.processed', 'video.ready', 'video.failed']);
alter table public.webhook_endpoints drop constraint if exists webhook_endpoints_url_check;
alter table public.webhook_endpoints drop constraint if exists webhook_endpoints_url_plain;
-- http(s) only, no credentials in the URL, a host; where the host resolves is checked at send time.
alter table public.webhook_endpoints add constraint webhook_endpoints_url_plain
  check (url ~ '^https?://[^/@\s]+(/\S*)?$' and length(url) <= 2048);
grant select (description, disabled_reason, updated_at) on public.webhook_endpoints to authenticated;

-- Who is calling: an owner signed in through the API (auth.uid()), or the service role acting
-- for p_owner. An owner may act only for themself.
create or replace function public.acting_owner(p_owner uuid) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_uid uuid := auth.uid();
begin
  if v_uid is not null and p_owner is not null and p_owner <> v_uid then
    raise exception 'an owner may manage only their own endpoints' using errcode = '42501';
  end if;
  if coalesce(v_uid, p_owner) is null then
    raise exception 'no owner: sign in, or name the owner as the service role' using errcode = '22023';
  end if;
  return coalesce(v_uid, p_owner);
end
$$;

-- Registers an endpoint and returns its signing secret: the only time the secret is shown to
-- an owner (the column is readable by the service role alone).
create or replace function public.create_webhook_endpoint(
  p_url text, p_event_types text[] default null, p_description text default null, p_owner uuid default null
) returns table (id uuid, secret text)
language plpgsql security definer set search_path = '' as $$
declare
  v_owner uuid := public.acting_owner(p_owner);
begin
  return query
    insert into public.webhook_endpoints as e (owner_id, url, event_types, description)
    values (v_owner, p_url,
            coalesce(p_event_types, array['video.ingested', 'video.processed', 'video.ready', 'video.failed']),
            p_description)
    returning e.id, e.secret;
end
$$;

create or replace function public.delete_webhook_endpoint(p_id uuid, p_owner uuid default null)
returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_owner uuid := public.acting_owner(p_owner);
begin
  delete from public.webhook_endpoints where id = p_id and owner_id = v_owner;
  return found;
end
$$;

-- Turning an endpoint back on clears the reason the pipeline turned it off.
create or replace function public.set_webhook_endpoint_enabled(p_id uuid, p_enabled boolean, p_owner uuid default null)
returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_owner uuid := public.acting_owner(p_owner);
begin
  update public.webhook_endpoints
     set enabled = p_enabled, disabled_reason = case when p_enabled then null else disabled_reason end,
         updated_at = now()
   where id = p_id and owner_id = v_owner;
  return found;
end
$$;

select public.grant_execute_only(array['acting_owner', 'create_webhook_endpoint', 'delete_webhook_endpoint',
                                       'set_webhook_endpoint_enabled'], 'authenticated, service_role');

-- Uploads ------------------------------------------------------------------------------------
-- A signed-in user writes into an ingest bucket only under their own folder (<user id>/…), so no
-- upload can claim another owner's path; ingest checks the same again (path_not_owned).
create or replace function public.is_ingest_bucket(p_bucket text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.ingest_buckets where bucket_id = p_bucket)
$$;
select public.grant_execute_only(array['is_ingest_bucket'], 'authenticated, service_role');

drop policy if exists vidpipe_owner_uploads on storage.objects;
create policy vidpipe_owner_uploads on storage.objects for insert to authenticated
  with check (public.is_ingest_bucket(bucket_id) and split_part(name, '/', 1) = (select auth.uid())::text);
drop policy if exists vidpipe_owner_reads_uploads on storage.objects;
create policy vidpipe_owner_reads_uploads on storage.objects for select to authenticated
  using (public.is_ingest_bucket(bucket_id) and split_part(name, '/', 1) = (select auth.uid())::text);

-- Realtime -----------------------------------------------------------------------------------
-- A UI subscribes to its jobs' status (RLS still applies to what each subscriber receives).
-- Only where Supabase Realtime's publication exists; a plain Postgres has none.
do $$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime')
     and not exists (select 1 from pg_publication_tables
                      where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'processing_jobs') then
    alter publication supabase_realtime add table public.processing_jobs;
  end if;
end
$$;
