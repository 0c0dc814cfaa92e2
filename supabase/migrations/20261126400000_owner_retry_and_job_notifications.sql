-- vidpipe: an owner may retry their own failed job (retry_job, for the results page and any front
-- end), may read the files derived from their videos through Storage (a signed URL for the proxy,
-- the captions, the storyboard), and every change of a job and every attempt to deliver its
-- webhooks is announced on channel vidpipe_jobs with the job's id, for listeners that read it
-- again with their own rights. The same change as supabase/schemas/ (30_state_machine,
-- 50_webhooks, 70_security), and a storage policy.

create function public.retry_job(p_job uuid) returns public.processing_jobs
language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := auth.uid();
begin
  if v_uid is null then
    raise exception 'sign in to retry a job' using errcode = '42501';
  end if;
  perform from public.processing_jobs where id = p_job and owner_id = v_uid;
  if not found then
    raise exception 'job % not found', p_job using errcode = 'VP404';
  end if;
  return public.requeue_job(p_job);
end
$$;

create function public.notify_job_event() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform pg_notify('vidpipe_jobs', new.job_id::text);
  return null;
end
$$;

create trigger job_event_notify after insert on public.job_events
  for each row execute function public.notify_job_event();
create trigger webhook_attempt_notify after insert on public.webhook_attempts
  for each row execute function public.notify_job_event();

revoke execute on function public.retry_job(uuid) from public, anon, authenticated;
grant execute on function public.retry_job(uuid) to authenticated, service_role;
revoke execute on function public.notify_job_event() from public, anon, authenticated;
grant execute on function public.notify_job_event() to service_role;

-- Derived files are kept under <owner>/<video>/ in the derived bucket: the owner reads their own.
create policy vidpipe_owner_reads_derived on storage.objects for select to authenticated
  using (bucket_id = 'derived' and split_part(name, '/', 1) = (select auth.uid())::text);
