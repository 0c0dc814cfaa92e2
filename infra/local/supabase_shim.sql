-- A minimal imitation of what a hosted Supabase project already has, applied ONLY to the
-- local embedded database: the API roles, auth.users / auth.uid(), storage.buckets and
-- storage.objects with Supabase's columns, and Supabase's default grants on `public`.
-- Nothing here belongs in supabase/migrations: a real project provides all of it.

do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;

-- auth ---------------------------------------------------------------------------------------
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  email text unique,
  created_at timestamptz not null default now()
);

-- As Supabase defines them: a claim of the request's JWT (PostgREST sets request.jwt.claims;
-- older versions one setting per claim), and the caller's user id and role from it.
create or replace function auth.jwt_claim(p_name text) returns text
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.' || p_name, true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> p_name)
  )
$$;

create or replace function auth.uid() returns uuid
language sql stable as $$ select auth.jwt_claim('sub')::uuid $$;

create or replace function auth.role() returns text
language sql stable as $$ select auth.jwt_claim('role') $$;

-- storage ------------------------------------------------------------------------------------
create schema if not exists storage;
grant usage on schema storage to anon, authenticated, service_role;

create table if not exists storage.buckets (
  id text primary key,
  name text not null unique,
  owner uuid,
  owner_id text,
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  user_metadata jsonb,
  unique (bucket_id, name)
);
alter table storage.objects enable row level security;
grant all on storage.objects, storage.buckets to service_role;
-- As on Supabase: signed-in users may try any write; the policies on storage.objects decide.
grant select, insert, update, delete on storage.objects to authenticated;

-- As on Supabase: rows of the storage tables go through the Storage API, which allows its own
-- deletes with storage.allow_delete_query; a direct delete is refused, so nothing of ours relies
-- on one.
create or replace function storage.protect_delete() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') <> 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
  end if;
  return null;
end
$$;
create or replace trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();
create or replace trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();
grant select on storage.buckets to authenticated;
