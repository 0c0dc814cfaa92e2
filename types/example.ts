// A front end on a Supabase project, typed end to end by the generated files beside it: it
// follows one upload's job as it moves, reads the video's metadata document when it is ready,
// retries it when it failed, and (on a server of the customer's) takes a webhook payload.
// `make types` regenerates the types and compiles this file with `tsc --noEmit`.
import { createClient, type RealtimePostgresUpdatePayload } from "@supabase/supabase-js";

import type { Database, Enums, Tables } from "./database";
import type { Chapter, MetadataDocument } from "./metadata-document";
import type { WebhookPayload } from "./webhook-payload";

type Job = Tables<"processing_jobs">;
type JobStatus = Enums<"job_status">;

const supabase = createClient<Database>("https://abcdefghijklmnopqrst.supabase.co", "the project's anon key");

/** The job of an uploaded object, read with the signed-in owner's rights (RLS). */
export async function jobOfUpload(objectId: string): Promise<Job | null> {
  const { data: video, error } = await supabase.from("videos").select("id").eq("object_id", objectId).maybeSingle();
  if (error) throw error;
  if (!video) return null; // ingest has not seen it yet
  const { data: job } = await supabase.from("processing_jobs").select("*").eq("video_id", video.id).single();
  return job;
}

/** Calls `onChange` with each new status of the job, through Realtime, until unsubscribed. */
export function followJob(jobId: string, onChange: (status: JobStatus, job: Job) => void): () => void {
  const channel = supabase
    .channel(`job-${jobId}`)
    .on(
      "postgres_changes",
      { event: "UPDATE", schema: "public", table: "processing_jobs", filter: `id=eq.${jobId}` },
      (change: RealtimePostgresUpdatePayload<Job>) => onChange(change.new.status, change.new),
    )
    .subscribe();
  return () => void supabase.removeChannel(channel);
}

/** The ready video's document; its shape is the JSON Schema's, checked by version. */
export async function metadataOf(videoId: string): Promise<MetadataDocument> {
  const { data, error } = await supabase
    .from("video_metadata")
    .select("schema_version, document")
    .eq("video_id", videoId)
    .single();
  if (error) throw error;
  if (data.schema_version !== 4) throw new Error(`document version ${data.schema_version} is not understood`);
  return data.document as unknown as MetadataDocument;
}

/** What a chapter list shows: each chapter's start as m:ss and its label. */
export function chapterLines(doc: MetadataDocument): string[] {
  const chapters: Chapter[] = doc.chapters?.items ?? [];
  return chapters.map((c) => {
    const s = Math.floor(c.start);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} ${c.label}`;
  });
}

/** A signed URL for the proxy, when the document has one. */
export async function proxyUrl(doc: MetadataDocument): Promise<string | null> {
  if (!doc.proxy) return null;
  const { data, error } = await supabase.storage.from(doc.proxy.bucket).createSignedUrl(doc.proxy.path, 3600);
  if (error) throw error;
  return data.signedUrl;
}

/** The owner's retry of a failed job. */
export async function retry(jobId: string): Promise<JobStatus> {
  const { data, error } = await supabase.rpc("retry_job", { p_job: jobId });
  if (error) throw error;
  return data.status;
}

/** A customer's webhook handler, after it has verified the signature. */
export function describeEvent(event: WebhookPayload): string {
  const { data } = event;
  switch (event.type) {
    case "video.failed":
      return `${data.video_id} failed at ${data.failed_step ?? "?"}: ${data.reason ?? "unknown"} (${data.message ?? ""})`;
    case "video.ready":
      return `${data.video_id} is ready: ${data.links.metadata}`;
    default:
      return `${data.video_id} is ${data.status}`;
  }
}
