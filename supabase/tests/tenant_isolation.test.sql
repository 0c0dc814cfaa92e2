-- Tenant isolation, as API users meet it (PostgREST: a role plus JWT claims). Two owners, Alice
-- and Bob, each with a video that went through the pipeline, an endpoint and a delivery:
--   anon reads nothing; an authenticated owner reads only their own rows and writes nothing the
--   pipeline owns; the service role does the pipeline's work; no upload can claim another
--   owner's storage path. Runs with `supabase test db`, and locally under `make test`.
begin;
select plan(102);

-- Fixtures, as the pipeline would leave them ---------------------------------------------------
insert into auth.users (id) values
  ('00000000-0000-4000-8000-00000000000a'), ('00000000-0000-4000-8000-00000000000b');
insert into storage.buckets (id, name) values ('uploads', 'uploads'), ('derived', 'derived') on conflict do nothing;
insert into public.ingest_buckets (bucket_id) values ('uploads') on conflict do nothing;

create temporary table fixture (owner_id uuid, job_id uuid, endpoint_id uuid) on commit drop;
grant select on fixture to anon, authenticated, service_role;
do $$
declare
  u uuid;
  o uuid;
  j public.processing_jobs;
  e uuid;
  dl uuid;
begin
  foreach u in array array['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b']::uuid[] loop
    select c.id into e from public.create_webhook_endpoint('https://example.com/hooks', null, null, u) c;
    insert into storage.objects (bucket_id, name, owner) values ('uploads', u || '/v.mp4', u) returning id into o;
    insert into storage.objects (bucket_id, name) values ('derived', u || '/' || o || '/proxy.mp4');
    j := public.create_job(o, u, 'uploads', u || '/v.mp4', 1, 'video/mp4');
    j := public.claim_step(j.id, 'process', 'w', 60);
    perform public.complete_process(j.id, j.lease_owner, '{}', jsonb_build_array(jsonb_build_object(
      'kind', 'poster', 'bucket', 'derived', 'path', u || '/p.jpg', 'bytes', 1, 'content_type', 'image/jpeg')), '{}');
    j := public.claim_step(j.id, 'generate_metadata', 'w', 60);
    perform public.complete_generate_metadata(j.id, j.lease_owner, 3, '{}');
    -- the announcement of video.ready, sent once and acknowledged
    select d.id into dl from public.webhook_deliveries d join public.webhook_messages m on m.id = d.message_id
     where d.endpoint_id = e and m.event_type = 'video.ready';
    perform public.record_webhook_attempt(
      dl, (select c.claim from public.claim_webhook_delivery(dl, (
             select public.event_message_id(max(o.id)) from public.event_outbox o where o.subject_id = dl), 60) c),
      204, null, 12, '', null);
    insert into fixture values (u, j.id, e);
  end loop;
end
$$;

create function pg_temp.act_as(p_role text, p_user uuid default null) returns void
language plpgsql as $$
begin
  execute format('set local role %I', p_role);
  perform set_config('request.jwt.claims',
                     jsonb_build_object('role', p_role, 'sub', p_user)::text, true);
end
$$;

-- anon: nothing at all -------------------------------------------------------------------------
select pg_temp.act_as('anon');
select throws_ok(format('select * from public.%I', t), '42501', null, format('anon cannot read %s', t))
  from unnest(array['videos', 'processing_jobs', 'job_events', 'video_artifacts', 'video_metadata',
                    'webhook_endpoints', 'webhook_messages', 'webhook_deliveries', 'webhook_attempts',
                    'event_outbox', 'ingest_buckets', 'event_receipts', 'job_transitions', 'delivery_settings',
                    'event_requests']) t;
select throws_ok($$select * from public.create_webhook_endpoint('https://example.com/x')$$, '42501', null,
                 'anon cannot register an endpoint');
select throws_ok($$select public.retry_job(gen_random_uuid())$$, '42501', null, 'anon cannot retry a job');
reset role;

-- An owner: their own rows only -------------------------------------------------------------------
select pg_temp.act_as('authenticated', '00000000-0000-4000-8000-00000000000a');
select results_eq(format('select count(*)::int, count(*) filter (where owner_id = auth.uid())::int from public.%I', t),
                  $$values (1, 1)$$, format('Alice reads exactly her own row of %s', t))
  from unnest(array['videos', 'processing_jobs', 'video_artifacts', 'video_metadata',
                    'webhook_endpoints', 'webhook_attempts']) t;
select results_eq(format('select count(*) > 0 and bool_and(owner_id = auth.uid()) from public.%I', t),
                  $$values (true)$$, format('Alice reads only her own %s', t))
  from unnest(array['job_events', 'webhook_messages', 'webhook_deliveries']) t;
select throws_ok(format('select * from public.%I', t), '42501', null, format('Alice cannot read %s', t))
  from unnest(array['event_outbox', 'ingest_buckets', 'event_receipts', 'delivery_settings', 'event_requests']) t;
select throws_ok('select secret from public.webhook_endpoints', '42501', null,
                 'an owner cannot read a signing secret back');

-- … and writes nothing the pipeline owns.
select throws_ok(format('delete from public.%I', t), '42501', null, format('Alice cannot delete from %s', t))
  from unnest(array['videos', 'processing_jobs', 'job_events', 'video_artifacts', 'video_metadata',
                    'webhook_endpoints', 'webhook_messages', 'webhook_deliveries', 'webhook_attempts']) t;
select throws_ok(format('update public.%I set owner_id = auth.uid()', t), '42501', null,
                 format('Alice cannot update %s', t))
  from unnest(array['videos', 'processing_jobs', 'video_artifacts', 'video_metadata', 'webhook_endpoints',
                    'webhook_messages', 'webhook_deliveries', 'webhook_attempts']) t;
select throws_ok($$insert into public.webhook_endpoints (owner_id, url)
                   values ('00000000-0000-4000-8000-00000000000a', 'https://e.com/x')$$, '42501', null,
                 'Alice cannot insert endpoints directly (only through create_webhook_endpoint)');
select throws_ok(format('select public.%s', f), '42501', null, format('Alice cannot call %s', split_part(f, '(', 1)))
  from unnest(array[
    $$claim_step((select job_id from fixture limit 1), 'process', 'x', 60)$$,
    $$fail_step((select job_id from fixture limit 1), 'process', 'x', 'media_error', 'm', false)$$,
    $$requeue_job((select job_id from fixture limit 1))$$,
    $$sweep()$$,
    $$renew_lease((select job_id from fixture limit 1), 'x', 60)$$,
    $$record_artifacts((select job_id from fixture limit 1), auth.uid(), '[]', now())$$,
    $$claim_outbox(1, 1)$$,
    $$finish_reingest((select job_id from fixture limit 1), null, 1, null, null)$$,
    $$claim_webhook_delivery(gen_random_uuid(), 'evt_1', 60)$$,
    $$replay_webhook_delivery(gen_random_uuid())$$,
    $$announce((select j from public.processing_jobs j limit 1), 'video.ready', now())$$,
    $$configure_delivery('pg_net', '{}', null)$$,
    $$deliver_due_events()$$,
    $$reconcile_event_requests()$$]) f;

-- Endpoints through the API: her own, never Bob's.
select isnt((select secret from public.create_webhook_endpoint('https://example.com/alice')), null,
            'Alice registers an endpoint and gets its secret once');
select throws_ok($$select * from public.create_webhook_endpoint('https://example.com/x', null, null,
                                                                 '00000000-0000-4000-8000-00000000000b')$$,
                 '42501', null, 'Alice cannot register an endpoint for Bob');
select is((select public.delete_webhook_endpoint(
             (select endpoint_id from fixture where owner_id = '00000000-0000-4000-8000-00000000000b'))),
          false, 'Alice cannot delete Bob''s endpoint');
select is((select public.set_webhook_endpoint_enabled(
             (select endpoint_id from fixture where owner_id = '00000000-0000-4000-8000-00000000000b'), false)),
          false, 'Alice cannot turn Bob''s endpoint off');
select throws_ok($$select * from public.create_webhook_endpoint('ftp://example.com/x')$$, '23514', null,
                 'only http(s) URLs are registered');
select throws_ok($$select * from public.create_webhook_endpoint('https://user:pw@example.com/x')$$, '23514',
                 null, 'URLs with credentials are refused');
select throws_ok($$select * from public.create_webhook_endpoint('https://example.com/x', array['video.deleted'])$$,
                 '22P02', null, 'unknown event types are refused');

-- Retry: her own failed jobs only.
select throws_ok($$select public.retry_job((select job_id from fixture
                                             where owner_id = '00000000-0000-4000-8000-00000000000b'))$$,
                 'VP404', null, 'Alice cannot retry Bob''s job: it does not exist for her');
select throws_ok($$select public.retry_job((select job_id from fixture
                                             where owner_id = '00000000-0000-4000-8000-00000000000a'))$$,
                 'VP410', null, 'a job that did not fail is not retried');
select is((select count(*)::int from public.owner_retries), 0, 'a refused retry is not counted against her');
select throws_ok($$update public.owner_limits set retries_per_job = 1000$$, '42501', null,
                 'Alice cannot raise her own retry limit');

-- Storage: uploads only under her own folder.
select lives_ok($$insert into storage.objects (bucket_id, name, owner)
                  values ('uploads', '00000000-0000-4000-8000-00000000000a/new.mp4', auth.uid())$$,
                'Alice uploads into her own folder');
select throws_ok($$insert into storage.objects (bucket_id, name, owner)
                   values ('uploads', '00000000-0000-4000-8000-00000000000b/claimed.mp4', auth.uid())$$,
                 '42501', null, 'Alice cannot upload into Bob''s folder');
select throws_ok($$insert into storage.objects (bucket_id, name, owner) values ('uploads', 'loose.mp4', auth.uid())$$,
                 '42501', null, 'an upload outside any owner folder is refused');
select is((select count(*)::int from storage.objects where bucket_id = 'uploads'
            and split_part(name, '/', 1) <> auth.uid()::text), 0, 'Alice sees no other owner''s uploads');
select is((select count(*)::int from storage.objects where bucket_id = 'derived'
            and split_part(name, '/', 1) = auth.uid()::text), 1, 'Alice reads the files derived from her video');
select is((select count(*)::int from storage.objects where bucket_id = 'derived'
            and split_part(name, '/', 1) <> auth.uid()::text), 0, 'Alice reads no other owner''s derived files');
select throws_ok($$insert into storage.objects (bucket_id, name, owner)
                   values ('uploads', '00000000-0000-4000-8000-00000000000a/spoof.mp4',
                           '00000000-0000-4000-8000-00000000000b')$$,
                 '42501', null, 'Alice cannot name Bob the owner of her upload');
reset role;

-- A signed-in token without a `sub` is nobody, not the service role.
select pg_temp.act_as('authenticated');
select throws_ok($$select * from public.create_webhook_endpoint('https://example.com/x', null, null,
                                                                 '00000000-0000-4000-8000-00000000000b')$$,
                 '42501', null, 'a token without sub cannot register an endpoint for Bob');
select throws_ok(format('select public.set_webhook_endpoint_enabled(%L, false, %L)',
                        (select endpoint_id from fixture where owner_id = '00000000-0000-4000-8000-00000000000b'),
                        '00000000-0000-4000-8000-00000000000b'),
                 '42501', null, 'a token without sub cannot turn Bob''s endpoint off');
select throws_ok($$select public.retry_job((select job_id from fixture limit 1))$$, '42501', null,
                 'a token without sub cannot retry a job');
reset role;

-- The service role: the pipeline's work ---------------------------------------------------------
select pg_temp.act_as('service_role');
select results_eq(format('select count(distinct owner_id)::int from public.%I', t), $$values (2)$$,
                  format('the service role reads every owner''s %s', t))
  from unnest(array['videos', 'processing_jobs', 'video_artifacts', 'video_metadata', 'webhook_endpoints',
                    'webhook_messages', 'webhook_deliveries', 'webhook_attempts']) t;
select is((select count(*)::int from public.webhook_endpoints where secret like 'whsec_%'), 3,
          'the service role reads the signing secrets');
select lives_ok($$select public.fail_step(job_id, 'process', 'w', 'media_error', 'm', false) from fixture where false$$,
                'the service role may call the state machine');
select lives_ok($$select public.sweep()$$, 'the service role runs the sweeper');
select lives_ok($$select * from public.create_webhook_endpoint('https://example.com/ops', array['video.failed'],
                                                                'operator', '00000000-0000-4000-8000-00000000000b')$$,
                'the service role registers an endpoint for a named owner');
select throws_ok($$select * from public.create_webhook_endpoint('https://example.com/ops')$$, '22023', null,
                 'the service role must name the owner');
select lives_ok($$insert into public.event_outbox (target, subject_kind, subject_id, payload)
                   values ('notify', 'webhook_delivery', gen_random_uuid(), '{}')$$,
                'the service role writes the outbox');
reset role;

-- No API role may write, reference or hang a trigger on any of the pipeline's tables.
select is((select count(*)::int from pg_class c, unnest(array['anon', 'authenticated']) r,
                unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
            where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v')
              and not exists (select from pg_depend d where d.objid = c.oid and d.deptype = 'e')  -- pgTAP's own
              and has_table_privilege(r, c.oid, p)), 0,
          'anon and authenticated hold no write, REFERENCES or TRIGGER privilege on any table');

-- Which buckets feed the pipeline ------------------------------------------------------------------
select is((select public.is_ingest_bucket('uploads')), true, 'uploads is an ingest bucket');
select is((select public.is_ingest_bucket('derived')), false, 'derived is not');

select * from finish();
rollback;
