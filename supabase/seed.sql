-- Local development data: the buckets the pipeline uses and one local user.
-- `supabase db reset` applies it after the migrations; so does `vidpipe up`.
insert into storage.buckets (id, name, public) values
  ('uploads', 'uploads', false),
  ('derived', 'derived', false)
on conflict (id) do nothing;

insert into public.ingest_buckets (bucket_id) values ('uploads') on conflict do nothing;

insert into auth.users (id, email) values
  ('00000000-0000-4000-8000-000000000001', 'local@vidpipe.dev')
on conflict (id) do nothing;
