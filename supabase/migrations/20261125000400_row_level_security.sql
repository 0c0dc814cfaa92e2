-- vidpipe: row level security. Owners read their own rows; only the service role (which
-- bypasses RLS) and the state-machine functions write. Supabase grants every privilege on
-- `public` to anon and authenticated by default, so this file takes back what they must not have.

do $$
declare
  t text;
begin
  foreach t in array array['ingest_buckets', 'videos', 'processing_jobs', 'job_transitions',
                           'job_events', 'video_artifacts', 'video_metadata', 'event_outbox',
                           'webhook_endpoints', 'webhook_deliveries', 'event_receipts'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke insert, update, delete, truncate on public.%I from public, anon, authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$$;

-- Internal tables: no rows for API users at all.
revoke select on public.event_outbox, public.ingest_buckets, public.event_receipts from public, anon, authenticated;

-- Owner-readable tables.
do $$
declare
  t text;
begin
  foreach t in array array['videos', 'processing_jobs', 'job_events', 'video_artifacts',
                           'video_metadata', 'webhook_endpoints', 'webhook_deliveries'] loop
    execute format('drop policy if exists owner_reads on public.%I', t);
    execute format(
      'create policy owner_reads on public.%I for select to authenticated using (owner_id = (select auth.uid()))', t);
    execute format('revoke select on public.%I from anon', t);
  end loop;
end
$$;

-- The transition table is documentation anyone signed in may read.
drop policy if exists anyone_signed_in_reads on public.job_transitions;
create policy anyone_signed_in_reads on public.job_transitions for select to authenticated using (true);

-- An endpoint's signing secret is for the service role only: owners see every other column.
revoke select on public.webhook_endpoints from authenticated;
grant select (id, owner_id, url, event_types, enabled, created_at) on public.webhook_endpoints to authenticated;

-- State-machine and delivery functions are for the service role; API users cannot call them.
do $$
declare
  f regprocedure;
begin
  for f in select p.oid::regprocedure from pg_proc p
            where p.pronamespace = 'public'::regnamespace
              and p.proname = any (array[
                'guard_job_status', 'step_waiting_status', 'step_running_status', 'retry_backoff',
                'lock_job', 'register_upload', 'reject_upload', 'claim_step', 'finish_step',
                'complete_process', 'complete_generate_metadata', 'complete_notify', 'fail_step',
                'enqueue_event', 'job_event_target', 'emit_job_event', 'on_job_status_change',
                'on_storage_object_created', 'claim_outbox', 'ack_outbox', 'retry_outbox',
                'settle_dead_event', 'sweep', 'requeue_job', 'finish_reingest'])
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
