-- vidpipe: two reasons a job can fail with, for uploads that decoding would betray. A playlist,
-- list or image sequence names other files (unsupported_container); frame size times frame rate
-- can cost more than hours of ordinary video (too_many_pixels). The same change as
-- supabase/schemas/10_types.sql.

alter type public.failure_reason add value 'unsupported_container' after 'not_a_video';
alter type public.failure_reason add value 'too_many_pixels' after 'too_many_frames';
