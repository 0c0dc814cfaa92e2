-- Local development data: one local user (the buckets come from the migrations).
-- `supabase db reset` applies it after the migrations; so does `vidpipe up`.
insert into auth.users (id, email) values
  ('00000000-0000-4000-8000-000000000001', 'local@vidpipe.dev')
on conflict (id) do nothing;
