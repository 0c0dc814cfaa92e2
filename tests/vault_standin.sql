-- A stand-in for Supabase Vault (supabase_vault, not packaged here), for tests only: the same
-- functions and view our SQL uses. vault.secrets holds no plain text (the real one holds
-- ciphertext); vault.decrypted_secrets shows it decrypted.
create schema if not exists vault;

create table vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create view vault.decrypted_secrets as
select s.*, convert_from(decode(s.secret, 'base64'), 'UTF8') as decrypted_secret from vault.secrets s;

create function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null
) returns uuid
language sql as $$
  insert into vault.secrets (secret, name, description, key_id)
  values (encode(convert_to(new_secret, 'UTF8'), 'base64'), new_name, new_description, new_key_id)
  returning id
$$;

create function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null, new_description text default null,
  new_key_id uuid default null
) returns void
language sql as $$
  update vault.secrets
     set secret = coalesce(encode(convert_to(new_secret, 'UTF8'), 'base64'), secret), name = coalesce(new_name, name),
         description = coalesce(new_description, description), key_id = coalesce(new_key_id, key_id),
         updated_at = now()
   where id = secret_id
$$;
