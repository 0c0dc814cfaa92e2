-- vidpipe: generate_metadata stores files too (captions, the transcript's words), and a step that
-- runs long (transcribing hours of speech) keeps its lease alive instead of guessing its length.

comment on table public.video_artifacts is
  'Files derived from a video: renditions by the process step, captions and transcript by generate_metadata.';

-- One way to record a step's artifacts, in the transaction that completes the step. A rerun
-- replaces a kind's row: the files were overwritten at the same paths.
create or replace function public.record_artifacts(
  p_video uuid, p_owner uuid, p_artifacts jsonb, p_now timestamptz
) returns void
language sql set search_path = '' as $$
  insert into public.video_artifacts (video_id, owner_id, kind, bucket, path, bytes, content_type, details)
  select p_video, p_owner, a.kind, a.bucket, a.path, a.bytes, a.content_type, coalesce(a.details, '{}'::jsonb)
    from jsonb_to_recordset(coalesce(p_artifacts, '[]'::jsonb))
      as a(kind text, bucket text, path text, bytes bigint, content_type text, details jsonb)
  on conflict (video_id, kind) do update
    set bucket = excluded.bucket, path = excluded.path, bytes = excluded.bytes,
        content_type = excluded.content_type, details = excluded.details, created_at = p_now
$$;

create or replace function public.complete_process(
  p_job uuid, p_worker text, p_probe jsonb, p_artifacts jsonb, p_analysis jsonb,
  p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.finish_step(p_job, 'process', p_worker, p_now);
  update public.videos set probe = p_probe, analysis = p_analysis, updated_at = p_now where id = j.video_id;
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  return j;
end
$$;

drop function if exists public.complete_generate_metadata(uuid, text, integer, jsonb, timestamptz);
create or replace function public.complete_generate_metadata(
  p_job uuid, p_worker text, p_schema_version integer, p_document jsonb,
  p_artifacts jsonb default '[]'::jsonb, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.finish_step(p_job, 'generate_metadata', p_worker, p_now);
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  insert into public.video_metadata (video_id, owner_id, schema_version, document, created_at)
  values (j.video_id, j.owner_id, p_schema_version, p_document, p_now)
  on conflict (video_id) do update
    set schema_version = excluded.schema_version, document = excluded.document,
        created_at = excluded.created_at;
  return j;
end
$$;

-- Extends the caller's lease to p_lease_seconds from now; VP412 when the caller lost it (the
-- sweeper took it back after it expired), so a step that lost its lease stops.
create or replace function public.renew_lease(
  p_job uuid, p_worker text, p_lease_seconds integer, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
begin
  j := public.lock_job(p_job);
  if j.lease_owner is distinct from p_worker then
    raise exception 'worker % no longer holds the lease on job %', p_worker, p_job using errcode = 'VP412';
  end if;
  update public.processing_jobs
     set lease_expires_at = greatest(lease_expires_at, p_now + make_interval(secs => p_lease_seconds))
   where id = p_job
  returning * into j;
  return j;
end
$$;

-- One way for the migrations from here on to say who may call a function: revoked from the API
-- roles (Postgres grants every function to PUBLIC), granted to p_roles. Every overload.
create or replace function public.grant_execute_only(p_functions text[], p_roles text) returns void
language plpgsql set search_path = '' as $$
declare
  f regprocedure;
begin
  for f in select p.oid::regprocedure from pg_proc p
            where p.pronamespace = 'public'::regnamespace and p.proname = any (p_functions)
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to %s', f, p_roles);
  end loop;
end
$$;
revoke execute on function public.grant_execute_only(text[], text) from public, anon, authenticated;

select public.grant_execute_only(array['record_artifacts', 'complete_process', 'complete_generate_metadata',
                                       'renew_lease'], 'service_role');
