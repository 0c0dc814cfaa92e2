-- vidpipe schema, part 7 of 7: security. Row level security on every table: owners read their
-- own rows; anon reads nothing; only the service role (which bypasses RLS) and the state-machine
-- functions write. Supabase grants every privilege on `public` to anon and authenticated by
-- default, so this file takes back what they must not have.

-- Row level security ------------------------------------------------------------------------------
alter table public.ingest_buckets enable row level security;
alter table public.videos enable row level security;
alter table public.processing_jobs enable row level security;
alter table public.job_events enable row level security;
alter table public.video_artifacts enable row level security;
alter table public.video_metadata enable row level security;
alter table public.event_outbox enable row level security;
alter table public.event_receipts enable row level security;
alter table public.delivery_settings enable row level security;
alter table public.event_requests enable row level security;
alter table public.webhook_endpoints enable row level security;
alter table public.webhook_messages enable row level security;
alter table public.webhook_deliveries enable row level security;
alter table public.webhook_attempts enable row level security;
alter table public.owner_limits enable row level security;
alter table public.owner_retries enable row level security;

create policy owner_reads on public.videos for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.processing_jobs for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.job_events for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.video_artifacts for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.video_metadata for select to authenticated using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_endpoints for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_messages for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_deliveries for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.webhook_attempts for select to authenticated
  using (owner_id = (select auth.uid()));
create policy owner_reads on public.owner_retries for select to authenticated
  using (owner_id = (select auth.uid()));

-- Table privileges ----------------------------------------------------------------------------------
-- The API roles write nothing (nor reference or trigger on anything); anon reads nothing; owners
-- read through the policies above.
revoke insert, update, delete, truncate, references, trigger on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts, public.job_transitions,
  public.delivery_settings, public.event_requests, public.owner_limits, public.owner_retries
  from public, anon, authenticated;
revoke select on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts, public.job_transitions,
  public.delivery_settings, public.event_requests, public.owner_limits, public.owner_retries
  from anon;
-- Nor on tables made later in this schema.
alter default privileges in schema public revoke references, trigger on tables from anon, authenticated;
-- Internal tables: no rows for signed-in users either.
revoke select on public.event_outbox, public.ingest_buckets, public.event_receipts, public.delivery_settings,
  public.event_requests from authenticated;
-- An endpoint's signing secret is for the service role only: owners see every other column.
revoke select on public.webhook_endpoints from authenticated;
grant select (id, owner_id, url, event_types, enabled, description, disabled_reason, created_at, updated_at)
  on public.webhook_endpoints to authenticated;
grant all on
  public.ingest_buckets, public.videos, public.processing_jobs, public.job_events, public.video_artifacts,
  public.video_metadata, public.event_outbox, public.event_receipts, public.webhook_endpoints,
  public.webhook_messages, public.webhook_deliveries, public.webhook_attempts, public.delivery_settings,
  public.event_requests, public.owner_limits, public.owner_retries
  to service_role;
grant select on public.job_transitions to authenticated, service_role;

-- Uploads -------------------------------------------------------------------------------------------
-- Used by the storage policies the migration creates: a signed-in user writes into an ingest bucket
-- only under their own folder (<user id>/…); ingest checks the same again (path_not_owned).
create function public.is_ingest_bucket(p_bucket text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.ingest_buckets where bucket_id = p_bucket)
$$;

-- Function privileges --------------------------------------------------------------------------------
-- Postgres grants every new function to PUBLIC (and Supabase to anon and authenticated). The
-- pipeline's functions are for the service role; owners may manage their endpoints.
do $$
declare
  r record;
  v_for_owners text[] := array['acting_owner', 'create_webhook_endpoint', 'delete_webhook_endpoint',
                               'set_webhook_endpoint_enabled', 'is_ingest_bucket', 'retry_job'];
begin
  for r in
    select p.oid::regprocedure as f, p.proname = any (v_for_owners) as for_owners from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname = any (v_for_owners || array[
         'guard_job', 'step_of', 'step_waiting_status', 'step_running_status', 'retry_backoff', 'lock_job',
         'lock_webhook_delivery', 'job_changed', 'transition_job', 'create_job', 'claim_step', 'held_job',
         'renew_lease', 'report_progress', 'record_artifacts', 'became_playable', 'mark_playable', 'complete_process',
         'complete_generate_metadata', 'fail_step',
         'requeue_job', 'finish_reingest', 'subject_table', 'enqueue_event', 'event_message_id',
         'outbox_event', 'job_event_target', 'on_storage_object_created', 'claim_outbox', 'ack_outbox',
         'retry_outbox', 'settle_dead_event', 'announcement_type', 'webhook_payload', 'announce',
         'webhook_sending_until', 'claim_webhook_delivery', 'record_webhook_attempt',
         'replay_webhook_delivery', 'webhook_sender_lost', 'fail_webhook_delivery', 'sweep',
         'settle_outbox_attempt', 'sign_event',
         'deliver_due_events', 'send_due_events', 'on_outbox_insert', 'reconcile_event_requests', 'configure_delivery',
         'scheduled_jobs', 'delivery_health', 'event_secret', 'notify_job_event'])
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', r.f);
    execute format('grant execute on function %s to %s', r.f,
                   case when r.for_owners then 'authenticated, service_role' else 'service_role' end);
  end loop;
end
$$;
