-- vidpipe: playable first. A web-ready source (H.264 Baseline/Main/High, 8-bit 4:2:0, AAC or no
-- sound: shared/media/web_ready.py) is packaged as HLS without decoding at the start of process and
-- plays from then on, long before its encode ends; any other source plays once its renditions are
-- stored. videos.playable_at says when, a history row tells watchers, and the owner's endpoints
-- hear video.playable, once. The same change as supabase/schemas/ (10_types, 20_tables,
-- 30_state_machine, 70_security).

alter type public.webhook_event_type add value if not exists 'video.playable' after 'video.ingested';
alter table public.videos add column playable_at timestamptz;
-- A video whose renditions are stored already plays.
update public.videos v set playable_at = v.updated_at
 where exists (select from public.video_artifacts a where a.video_id = v.id and a.kind = 'proxy');

-- The video plays from now: said once (playable_at, and video.playable to the owner's endpoints),
-- with a history row so that watchers hear of it. Early in process for a web-ready source
-- (mark_playable), else when the encoded renditions are stored (complete_process).
create function public.became_playable(j public.processing_jobs, p_note text, p_now timestamptz)
returns void
language plpgsql set search_path = '' as $$
begin
  update public.videos set playable_at = p_now, updated_at = p_now where id = j.video_id and playable_at is null;
  if found then
    insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, message, created_at)
    values (j.id, j.owner_id, j.status, j.status, j.attempts, p_note, p_now);
    perform public.announce(j, 'video.playable', p_now);
  end if;
end
$$;

-- process stored the source packaged as HLS (no decode) while its encode goes on.
create function public.mark_playable(p_job uuid, p_worker text, p_artifacts jsonb, p_now timestamptz default now())
returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, 'process', p_worker);
begin
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  perform public.became_playable(j, 'playable: the source, packaged as HLS without decoding', p_now);
  return j;
end
$$;

create or replace function public.complete_process(
  p_job uuid, p_worker text, p_probe jsonb, p_artifacts jsonb, p_analysis jsonb, p_now timestamptz default now()
) returns public.processing_jobs
language plpgsql set search_path = '' as $$
declare
  j public.processing_jobs := public.held_job(p_job, 'process', p_worker);
begin
  update public.videos set probe = p_probe, analysis = p_analysis, updated_at = p_now where id = j.video_id;
  perform public.record_artifacts(j.video_id, j.owner_id, p_artifacts, p_now);
  if exists (select from public.video_artifacts a where a.video_id = j.video_id and a.kind in ('proxy', 'hls')) then
    perform public.became_playable(j, 'playable: the encoded renditions are stored', p_now);
  end if;
  return public.transition_job(p_job, 'processed', p_now);
end
$$;

-- What follows a change of job o into n (o is null for a new job): its history row, the event
-- for the function it now waits for, and the announcement to its owner.
create or replace function public.job_changed(
  o public.processing_jobs, n public.processing_jobs, p_note text, p_now timestamptz
) returns void
language plpgsql set search_path = '' as $$
declare
  v_target public.pipeline_function := public.job_event_target(n.status);
begin
  insert into public.job_events (job_id, owner_id, from_status, to_status, attempt, reason_code, message, created_at)
  values (n.id, n.owner_id, o.status, n.status, n.attempts, n.reason_code, p_note, p_now);
  if v_target is not null then
    perform public.enqueue_event(v_target, case when o is null then 'INSERT' else 'UPDATE' end, 'job',
                                 to_jsonb(n), case when o is not null then to_jsonb(o) end, n.run_after, p_now);
  end if;
  if n.status in ('queued', 'processed', 'ready', 'failed') then
    perform public.announce(n, public.announcement_type(n.status), p_now);
  end if;
  -- A video whose processing failed for good does not play from its source: the remux showed
  -- what the decode later refused (frames or a length the container hid). Its announcements
  -- said playable, then failed; a retry that passes makes it playable again.
  if n.status = 'failed' and n.failed_step = 'process' then
    delete from public.video_artifacts a where a.video_id = n.video_id and a.kind = 'source_hls';
    update public.videos set playable_at = null, updated_at = p_now where id = n.video_id;
  end if;
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array[
    'public.became_playable(public.processing_jobs, text, timestamptz)',
    'public.mark_playable(uuid, text, jsonb, timestamptz)'
  ] loop
    execute format('revoke execute on function %s from public, anon, authenticated', f::regprocedure);
    execute format('grant execute on function %s to service_role', f::regprocedure);
  end loop;
end
$$;
