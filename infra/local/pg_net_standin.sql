-- A stand-in for pg_net 0.20, for local databases only (pg_net is not packaged for Debian). It keeps
-- the contract our SQL relies on, as documented and as measured on a real project:
--   net.http_post(url, body jsonb, params jsonb, headers jsonb, timeout_milliseconds int) → request id;
--   only Content-Type: application/json (added when absent, any other refused); the body sent is the
--   jsonb's ::text; requests wait in net.http_request_queue and a worker (infra/local/pg_net_worker.py)
--   sends them only once the calling transaction has committed, once, never retried, in batches: the
--   next batch only when every request of the last is answered; answers land in net._http_response
--   (status_code, content_type, headers, content, timed_out, error_msg, created).
-- Both tables are unlogged, as pg_net's are. Production SQL must not use anything else from here.

create schema if not exists net;

create unlogged table if not exists net.http_request_queue (
  id bigserial primary key,
  method text not null check (method in ('GET', 'POST', 'DELETE')),
  url text not null,
  headers jsonb not null,
  body bytea,
  timeout_milliseconds integer not null
);

create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created on net._http_response (created);

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql volatile as $$
declare
  v_content_type text;
  v_id bigint;
begin
  select h.value into v_content_type from jsonb_each_text(coalesce(headers, '{}'::jsonb)) h
   where lower(h.key) = 'content-type' limit 1;
  if v_content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif v_content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  if body is null then
    raise exception 'body must not be null';
  end if;
  if params is not null and params <> '{}'::jsonb then
    raise exception 'this pg_net stand-in does not encode query parameters' using errcode = '0A000';
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', url, headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into v_id;
  return v_id;
end
$$;
