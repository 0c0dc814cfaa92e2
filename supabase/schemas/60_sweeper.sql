-- vidpipe schema, part 6 of 7: the sweeper. Run every few seconds (the dispatcher locally,
-- pg_cron on hosted Supabase); it never waits on a locked job (a webhook delivery's lock is held
-- only while an attempt is claimed or recorded). It rescues work whose worker died or whose event
-- was lost, and keeps the event tables small.
-- subject_id is a job id, a storage object id for `ingest_reemitted`, or a webhook delivery id for
-- `webhook_resent` and `webhook_failed`.
create function public.sweep(p_now timestamptz default now(), p_stale_seconds integer default 120)
returns table (subject_id uuid, action text)
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs;
  obj storage.objects;
  d public.webhook_deliveries;
  v_step public.job_step;
begin
  -- 1. A held step whose lease expired: its worker died or hung. Retried while attempts remain.
  for j in select * from public.processing_jobs pj
            where pj.lease_expires_at < p_now for update skip locked loop
    v_step := public.step_of(j.status);
    if j.attempts < j.max_attempts then
      perform public.transition_job(j.id, public.step_waiting_status(v_step), p_now,
                                    p_message => format('%s stopped responding: lease expired', v_step));
      subject_id := j.id; action := 'requeued'; return next;
    else
      perform public.transition_job(j.id, 'failed', p_now, 'retries_exhausted',
                                    format('%s stopped responding on its last attempt', v_step));
      subject_id := j.id; action := 'failed'; return next;
    end if;
  end loop;

  -- 2. A job waiting for a step with no event on its way (acknowledged without effect, or never sent).
  for j in select * from public.processing_jobs pj
            where public.job_event_target(pj.status) is not null
              and pj.run_after <= p_now
              and pj.updated_at < p_now - make_interval(secs => p_stale_seconds)
              and not exists (
                select from public.event_outbox o
                 where o.delivered_at is null and o.dead_at is null and o.subject_kind = 'job' and o.subject_id = pj.id)
            for update skip locked loop
    update public.processing_jobs set updated_at = p_now where id = j.id returning * into j;
    perform public.enqueue_event(public.job_event_target(j.status), 'UPDATE', 'job', to_jsonb(j), to_jsonb(j),
                                 p_now, p_now);
    subject_id := j.id; action := 'reemitted'; return next;
  end loop;

  -- 3. An upload into an ingest bucket that never became a video and has no event on its way. Only
  --    uploads made since the bucket joined the pipeline (joining does not ingest history) and in
  --    the last week, so each sweep reads a bounded slice of a large bucket.
  for obj in select so.* from storage.objects so
             join public.ingest_buckets b on b.bucket_id = so.bucket_id
            where so.created_at >= b.created_at
              and so.created_at > p_now - interval '7 days'
              and so.created_at < p_now - make_interval(secs => p_stale_seconds)
              and not exists (select from public.videos v where v.object_id = so.id)
              and not exists (
                select from public.event_outbox ev
                 where ev.delivered_at is null and ev.dead_at is null and ev.subject_kind = 'storage_object'
                   and ev.subject_id = so.id)
            order by so.created_at
            limit 100 loop
    perform public.enqueue_event('ingest', 'INSERT', 'storage_object', to_jsonb(obj), null, p_now, p_now);
    subject_id := obj.id; action := 'ingest_reemitted'; return next;
  end loop;

  -- 4. A customer webhook whose send's claim ran out with nothing recorded and no event on its way:
  --    its sender stopped after answering its carrier. Locked in the order recording locks
  --    (webhook_sender_lost), so the rows are read here without a lock.
  for d in select * from public.webhook_deliveries w
            where w.status = 'sending' and w.sending_until < p_now
              and not exists (
                select from public.event_outbox o
                 where o.delivered_at is null and o.dead_at is null and o.subject_kind = 'webhook_delivery'
                   and o.subject_id = w.id)
            limit 100 loop
    d := public.webhook_sender_lost(d.id, p_now);
    if d.id is not null then
      subject_id := d.id; action := case when d.status = 'failed' then 'webhook_failed' else 'webhook_resent' end;
      return next;
    end if;
  end loop;

  -- 5. Housekeeping: receipts older than any signature that still verifies, and delivered events
  --    after a week (job_events keeps the history; dead events stay for an operator to read).
  delete from public.event_receipts where received_at < p_now - interval '10 minutes';
  delete from public.event_outbox where delivered_at < p_now - interval '7 days';
end
$$;
