
export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[]

export type Database = {
  
  "public": {
          Tables: {
            "delivery_settings": {
                  Row: {
                    "backoff_base_seconds": number,"batch": number,"carrier": Database["public"]['Enums']["delivery_carrier"],"event_secret": string | null,"function_urls": NonNullable<Json>,"max_attempts": number,"singleton": boolean,"timeout_ms": number,"updated_at": string,"visibility_seconds": number
                  }
                  ComputedFields: never
                  Insert: {
                    "backoff_base_seconds"?: number,"batch"?: number,"carrier"?: Database["public"]['Enums']["delivery_carrier"],"event_secret"?: string | null,"function_urls"?: NonNullable<Json>,"max_attempts"?: number,"singleton"?: boolean,"timeout_ms"?: number,"updated_at"?: string,"visibility_seconds"?: number
                  }
                  Update: {
                    "backoff_base_seconds"?: number,"batch"?: number,"carrier"?: Database["public"]['Enums']["delivery_carrier"],"event_secret"?: string | null,"function_urls"?: NonNullable<Json>,"max_attempts"?: number,"singleton"?: boolean,"timeout_ms"?: number,"updated_at"?: string,"visibility_seconds"?: number
                  }
                  Relationships: [
                    
                  ]
                },"event_outbox": {
                  Row: {
                    "attempts": number,"available_at": string,"created_at": string,"dead_at": string | null,"delivered_at": string | null,"id": number,"last_error": string | null,"payload": NonNullable<Json>,"subject_id": string,"subject_kind": Database["public"]['Enums']["event_subject"],"target": Database["public"]['Enums']["pipeline_function"]
                  }
                  ComputedFields: never
                  Insert: {
                    "attempts"?: number,"available_at"?: string,"created_at"?: string,"dead_at"?: string | null,"delivered_at"?: string | null,"id"?: never,"last_error"?: string | null,"payload": NonNullable<Json>,"subject_id": string,"subject_kind": Database["public"]['Enums']["event_subject"],"target": Database["public"]['Enums']["pipeline_function"]
                  }
                  Update: {
                    "attempts"?: number,"available_at"?: string,"created_at"?: string,"dead_at"?: string | null,"delivered_at"?: string | null,"id"?: never,"last_error"?: string | null,"payload"?: NonNullable<Json>,"subject_id"?: string,"subject_kind"?: Database["public"]['Enums']["event_subject"],"target"?: Database["public"]['Enums']["pipeline_function"]
                  }
                  Relationships: [
                    
                  ]
                },"event_receipts": {
                  Row: {
                    "function": Database["public"]['Enums']["pipeline_function"],"message_id": string,"received_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "function": Database["public"]['Enums']["pipeline_function"],"message_id": string,"received_at"?: string
                  }
                  Update: {
                    "function"?: Database["public"]['Enums']["pipeline_function"],"message_id"?: string,"received_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"event_requests": {
                  Row: {
                    "event_id": number,"request_id": number,"sent_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "event_id": number,"request_id": number,"sent_at"?: string
                  }
                  Update: {
                    "event_id"?: number,"request_id"?: number,"sent_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "event_requests_event_id_fkey"
      columns: ["event_id"]
isOneToOne: false
      referencedRelation: "event_outbox"
      referencedColumns: ["id"]
    }
                  ]
                },"ingest_buckets": {
                  Row: {
                    "bucket_id": string,"created_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "bucket_id": string,"created_at"?: string
                  }
                  Update: {
                    "bucket_id"?: string,"created_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"job_events": {
                  Row: {
                    "attempt": number,"created_at": string,"from_status": Database["public"]['Enums']["job_status"] | null,"id": number,"job_id": string,"message": string | null,"owner_id": string | null,"reason_code": Database["public"]['Enums']["failure_reason"] | null,"to_status": Database["public"]['Enums']["job_status"]
                  }
                  ComputedFields: never
                  Insert: {
                    "attempt": number,"created_at"?: string,"from_status"?: Database["public"]['Enums']["job_status"] | null,"id"?: never,"job_id": string,"message"?: string | null,"owner_id"?: string | null,"reason_code"?: Database["public"]['Enums']["failure_reason"] | null,"to_status": Database["public"]['Enums']["job_status"]
                  }
                  Update: {
                    "attempt"?: number,"created_at"?: string,"from_status"?: Database["public"]['Enums']["job_status"] | null,"id"?: never,"job_id"?: string,"message"?: string | null,"owner_id"?: string | null,"reason_code"?: Database["public"]['Enums']["failure_reason"] | null,"to_status"?: Database["public"]['Enums']["job_status"]
                  }
                  Relationships: [
                    {
      foreignKeyName: "job_events_job_id_fkey"
      columns: ["job_id"]
isOneToOne: false
      referencedRelation: "processing_jobs"
      referencedColumns: ["id"]
    }
                  ]
                },"owner_limits": {
                  Row: {
                    "retries_per_hour": number,"retries_per_job": number,"singleton": boolean,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "retries_per_hour"?: number,"retries_per_job"?: number,"singleton"?: boolean,"updated_at"?: string
                  }
                  Update: {
                    "retries_per_hour"?: number,"retries_per_job"?: number,"singleton"?: boolean,"updated_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"owner_retries": {
                  Row: {
                    "id": number,"job_id": string,"owner_id": string,"requested_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "id"?: never,"job_id": string,"owner_id": string,"requested_at"?: string
                  }
                  Update: {
                    "id"?: never,"job_id"?: string,"owner_id"?: string,"requested_at"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "owner_retries_job_id_fkey"
      columns: ["job_id"]
isOneToOne: false
      referencedRelation: "processing_jobs"
      referencedColumns: ["id"]
    }
                  ]
                },"processing_jobs": {
                  Row: {
                    "attempts": number,"created_at": string,"failed_step": Database["public"]['Enums']["job_step"] | null,"finished_at": string | null,"id": string,"last_error": string | null,"lease_expires_at": string | null,"lease_owner": string | null,"max_attempts": number,"owner_id": string | null,"progress_done": number | null,"progress_stage": string | null,"progress_total": number | null,"progress_unit": string | null,"reason_code": Database["public"]['Enums']["failure_reason"] | null,"retries": number,"retry_requested_at": string | null,"run_after": string,"status": Database["public"]['Enums']["job_status"],"updated_at": string,"video_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "attempts"?: number,"created_at"?: string,"failed_step"?: Database["public"]['Enums']["job_step"] | null,"finished_at"?: string | null,"id"?: string,"last_error"?: string | null,"lease_expires_at"?: string | null,"lease_owner"?: string | null,"max_attempts"?: number,"owner_id"?: string | null,"progress_done"?: number | null,"progress_stage"?: string | null,"progress_total"?: number | null,"progress_unit"?: string | null,"reason_code"?: Database["public"]['Enums']["failure_reason"] | null,"retries"?: number,"retry_requested_at"?: string | null,"run_after"?: string,"status"?: Database["public"]['Enums']["job_status"],"updated_at"?: string,"video_id": string
                  }
                  Update: {
                    "attempts"?: number,"created_at"?: string,"failed_step"?: Database["public"]['Enums']["job_step"] | null,"finished_at"?: string | null,"id"?: string,"last_error"?: string | null,"lease_expires_at"?: string | null,"lease_owner"?: string | null,"max_attempts"?: number,"owner_id"?: string | null,"progress_done"?: number | null,"progress_stage"?: string | null,"progress_total"?: number | null,"progress_unit"?: string | null,"reason_code"?: Database["public"]['Enums']["failure_reason"] | null,"retries"?: number,"retry_requested_at"?: string | null,"run_after"?: string,"status"?: Database["public"]['Enums']["job_status"],"updated_at"?: string,"video_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "processing_jobs_video_id_fkey"
      columns: ["video_id"]
isOneToOne: true
      referencedRelation: "videos"
      referencedColumns: ["id"]
    }
                  ]
                },"video_artifacts": {
                  Row: {
                    "bucket": string,"bytes": number,"content_type": string,"created_at": string,"details": NonNullable<Json>,"id": string,"kind": string,"owner_id": string | null,"path": string,"video_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "bucket": string,"bytes": number,"content_type": string,"created_at"?: string,"details"?: NonNullable<Json>,"id"?: string,"kind": string,"owner_id"?: string | null,"path": string,"video_id": string
                  }
                  Update: {
                    "bucket"?: string,"bytes"?: number,"content_type"?: string,"created_at"?: string,"details"?: NonNullable<Json>,"id"?: string,"kind"?: string,"owner_id"?: string | null,"path"?: string,"video_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "video_artifacts_video_id_fkey"
      columns: ["video_id"]
isOneToOne: false
      referencedRelation: "videos"
      referencedColumns: ["id"]
    }
                  ]
                },"video_metadata": {
                  Row: {
                    "created_at": string,"document": NonNullable<Json>,"owner_id": string | null,"schema_version": number,"video_id": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"document": NonNullable<Json>,"owner_id"?: string | null,"schema_version": number,"video_id": string
                  }
                  Update: {
                    "created_at"?: string,"document"?: NonNullable<Json>,"owner_id"?: string | null,"schema_version"?: number,"video_id"?: string
                  }
                  Relationships: [
                    {
      foreignKeyName: "video_metadata_video_id_fkey"
      columns: ["video_id"]
isOneToOne: true
      referencedRelation: "videos"
      referencedColumns: ["id"]
    }
                  ]
                },"videos": {
                  Row: {
                    "analysis": Json | null,"bucket": string,"content_type": string | null,"created_at": string,"id": string,"object_id": string,"owner_id": string | null,"path": string,"playable_at": string | null,"probe": Json | null,"size_bytes": number | null,"updated_at": string
                  }
                  ComputedFields: never
                  Insert: {
                    "analysis"?: Json | null,"bucket": string,"content_type"?: string | null,"created_at"?: string,"id"?: string,"object_id": string,"owner_id"?: string | null,"path": string,"playable_at"?: string | null,"probe"?: Json | null,"size_bytes"?: number | null,"updated_at"?: string
                  }
                  Update: {
                    "analysis"?: Json | null,"bucket"?: string,"content_type"?: string | null,"created_at"?: string,"id"?: string,"object_id"?: string,"owner_id"?: string | null,"path"?: string,"playable_at"?: string | null,"probe"?: Json | null,"size_bytes"?: number | null,"updated_at"?: string
                  }
                  Relationships: [
                    
                  ]
                },"webhook_attempts": {
                  Row: {
                    "attempt": number,"created_at": string,"delivery_id": string,"endpoint_id": string,"error": string | null,"event_type": Database["public"]['Enums']["webhook_event_type"],"id": number,"job_id": string,"latency_ms": number | null,"message_id": string,"owner_id": string | null,"response_body": string | null,"status_code": number | null
                  }
                  ComputedFields: never
                  Insert: {
                    "attempt": number,"created_at"?: string,"delivery_id": string,"endpoint_id": string,"error"?: string | null,"event_type": Database["public"]['Enums']["webhook_event_type"],"id"?: never,"job_id": string,"latency_ms"?: number | null,"message_id": string,"owner_id"?: string | null,"response_body"?: string | null,"status_code"?: number | null
                  }
                  Update: {
                    "attempt"?: number,"created_at"?: string,"delivery_id"?: string,"endpoint_id"?: string,"error"?: string | null,"event_type"?: Database["public"]['Enums']["webhook_event_type"],"id"?: never,"job_id"?: string,"latency_ms"?: number | null,"message_id"?: string,"owner_id"?: string | null,"response_body"?: string | null,"status_code"?: number | null
                  }
                  Relationships: [
                    {
      foreignKeyName: "webhook_attempts_delivery_id_fkey"
      columns: ["delivery_id"]
isOneToOne: false
      referencedRelation: "webhook_deliveries"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "webhook_attempts_endpoint_id_fkey"
      columns: ["endpoint_id"]
isOneToOne: false
      referencedRelation: "webhook_endpoints"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "webhook_attempts_job_id_fkey"
      columns: ["job_id"]
isOneToOne: false
      referencedRelation: "processing_jobs"
      referencedColumns: ["id"]
    }
                  ]
                },"webhook_deliveries": {
                  Row: {
                    "attempts": number,"created_at": string,"delivered_at": string | null,"endpoint_id": string,"finished_at": string | null,"id": string,"job_id": string,"last_error": string | null,"last_status_code": number | null,"message_id": string,"next_attempt_at": string,"owner_id": string | null,"replays": number,"sending_event": number | null,"sending_round": number | null,"sending_until": string | null,"status": Database["public"]['Enums']["webhook_delivery_status"]
                  }
                  ComputedFields: never
                  Insert: {
                    "attempts"?: number,"created_at"?: string,"delivered_at"?: string | null,"endpoint_id": string,"finished_at"?: string | null,"id"?: string,"job_id": string,"last_error"?: string | null,"last_status_code"?: number | null,"message_id": string,"next_attempt_at"?: string,"owner_id"?: string | null,"replays"?: number,"sending_event"?: number | null,"sending_round"?: number | null,"sending_until"?: string | null,"status"?: Database["public"]['Enums']["webhook_delivery_status"]
                  }
                  Update: {
                    "attempts"?: number,"created_at"?: string,"delivered_at"?: string | null,"endpoint_id"?: string,"finished_at"?: string | null,"id"?: string,"job_id"?: string,"last_error"?: string | null,"last_status_code"?: number | null,"message_id"?: string,"next_attempt_at"?: string,"owner_id"?: string | null,"replays"?: number,"sending_event"?: number | null,"sending_round"?: number | null,"sending_until"?: string | null,"status"?: Database["public"]['Enums']["webhook_delivery_status"]
                  }
                  Relationships: [
                    {
      foreignKeyName: "webhook_deliveries_endpoint_id_fkey"
      columns: ["endpoint_id"]
isOneToOne: false
      referencedRelation: "webhook_endpoints"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "webhook_deliveries_job_id_fkey"
      columns: ["job_id"]
isOneToOne: false
      referencedRelation: "processing_jobs"
      referencedColumns: ["id"]
    },{
      foreignKeyName: "webhook_deliveries_message_id_fkey"
      columns: ["message_id"]
isOneToOne: false
      referencedRelation: "webhook_messages"
      referencedColumns: ["id"]
    }
                  ]
                },"webhook_endpoints": {
                  Row: {
                    "created_at": string,"description": string | null,"disabled_reason": string | null,"enabled": boolean,"event_types": (Database["public"]['Enums']["webhook_event_type"])[],"id": string,"owner_id": string,"secret": string,"updated_at": string,"url": string
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"description"?: string | null,"disabled_reason"?: string | null,"enabled"?: boolean,"event_types"?: (Database["public"]['Enums']["webhook_event_type"])[],"id"?: string,"owner_id": string,"secret"?: string,"updated_at"?: string,"url": string
                  }
                  Update: {
                    "created_at"?: string,"description"?: string | null,"disabled_reason"?: string | null,"enabled"?: boolean,"event_types"?: (Database["public"]['Enums']["webhook_event_type"])[],"id"?: string,"owner_id"?: string,"secret"?: string,"updated_at"?: string,"url"?: string
                  }
                  Relationships: [
                    
                  ]
                },"webhook_messages": {
                  Row: {
                    "created_at": string,"event_type": Database["public"]['Enums']["webhook_event_type"],"id": string,"job_id": string,"owner_id": string | null,"payload": NonNullable<Json>
                  }
                  ComputedFields: never
                  Insert: {
                    "created_at"?: string,"event_type": Database["public"]['Enums']["webhook_event_type"],"id": string,"job_id": string,"owner_id"?: string | null,"payload": NonNullable<Json>
                  }
                  Update: {
                    "created_at"?: string,"event_type"?: Database["public"]['Enums']["webhook_event_type"],"id"?: string,"job_id"?: string,"owner_id"?: string | null,"payload"?: NonNullable<Json>
                  }
                  Relationships: [
                    {
      foreignKeyName: "webhook_messages_job_id_fkey"
      columns: ["job_id"]
isOneToOne: false
      referencedRelation: "processing_jobs"
      referencedColumns: ["id"]
    }
                  ]
                }
          }
          Views: {
            "job_transitions": {
                  Row: {
                    "from_status": Database["public"]['Enums']["job_status"] | null,"to_status": Database["public"]['Enums']["job_status"] | null
                  }
                  ComputedFields: never
                  Relationships: [
                    
                  ]
                }
          }
          Functions: {
            "ack_outbox":
{ Args: { "p_id": number,"p_now"?: string }; Returns: undefined
                           },
"acting_owner":
{ Args: { "p_owner": string }; Returns: string
                           },
"announce":
{ Args: { "j": Omit<Database["public"]['Tables']["processing_jobs"]['Row'], Database["public"]['Tables']["processing_jobs"]['ComputedFields']>,"p_now": string,"p_type": Database["public"]['Enums']["webhook_event_type"] }; Returns: string
                           },
"announcement_type":
{ Args: { "p_status": Database["public"]['Enums']["job_status"] }; Returns: Database["public"]['Enums']["webhook_event_type"]
                           },
"became_playable":
{ Args: { "j": Omit<Database["public"]['Tables']["processing_jobs"]['Row'], Database["public"]['Tables']["processing_jobs"]['ComputedFields']>,"p_note": string,"p_now": string }; Returns: undefined
                           },
"claim_outbox":
{ Args: { "p_limit": number,"p_now"?: string,"p_targets"?: (Database["public"]['Enums']["pipeline_function"])[],"p_visibility_seconds": number }; Returns: {
              "attempts": number,
"available_at": string,
"created_at": string,
"dead_at": string | null,
"delivered_at": string | null,
"id": number,
"last_error": string | null,
"payload": NonNullable<Json>,
"subject_id": string,
"subject_kind": Database["public"]['Enums']["event_subject"],
"target": Database["public"]['Enums']["pipeline_function"]
            }[]
                          SetofOptions: {
        from: "*"
        to: "event_outbox"
        isOneToOne: false
        isSetofReturn: true
      } },
"claim_step":
{ Args: { "p_job": string,"p_lease_seconds": number,"p_now"?: string,"p_step": Database["public"]['Enums']["job_step"],"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"claim_webhook_delivery":
{ Args: { "p_claim_seconds": number,"p_id": string,"p_message_id": string,"p_now"?: string,"p_owner_limit"?: number }; Returns: {
              "attempt": number,"body": Json,"claim": string,"deferred_until": string,"delivery_id": string,"message_id": string,"secret": string,"url": string
            }[]
                           },
"complete_generate_metadata":
{ Args: { "p_artifacts"?: Json,"p_document": Json,"p_job": string,"p_now"?: string,"p_schema_version": number,"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"complete_process":
{ Args: { "p_analysis": Json,"p_artifacts": Json,"p_job": string,"p_now"?: string,"p_probe": Json,"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"configure_delivery":
{ Args: { "p_carrier": Database["public"]['Enums']["delivery_carrier"],"p_event_secret"?: string,"p_function_urls"?: Json,"p_max_attempts"?: number,"p_now"?: string,"p_timeout_ms"?: number }; Returns: {
              "backoff_base_seconds": number,
"batch": number,
"carrier": Database["public"]['Enums']["delivery_carrier"],
"event_secret": string | null,
"function_urls": NonNullable<Json>,
"max_attempts": number,
"singleton": boolean,
"timeout_ms": number,
"updated_at": string,
"visibility_seconds": number
            }
                          SetofOptions: {
        from: "*"
        to: "delivery_settings"
        isOneToOne: true
        isSetofReturn: false
      } },
"create_job":
{ Args: { "p_bucket": string,"p_content_type": string,"p_max_attempts"?: number,"p_message"?: string,"p_now"?: string,"p_object_id": string,"p_owner": string,"p_path": string,"p_reason"?: Database["public"]['Enums']["failure_reason"],"p_size": number }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"create_webhook_endpoint":
{ Args: { "p_description"?: string,"p_event_types"?: (string)[],"p_owner"?: string,"p_url": string }; Returns: {
              "id": string,"secret": string
            }[]
                           },
"delete_webhook_endpoint":
{ Args: { "p_id": string,"p_owner"?: string }; Returns: boolean
                           },
"deliver_due_events":
{ Args: { "p_now"?: string }; Returns: number
                           },
"delivery_health":
{ Args: Record<PropertyKey, never>; Returns: {
              "ok": boolean,"part": string,"says": string
            }[]
                           },
"enqueue_event":
{ Args: { "p_available_at": string,"p_now": string,"p_old_record": Json,"p_record": Json,"p_subject": Database["public"]['Enums']["event_subject"],"p_target": Database["public"]['Enums']["pipeline_function"],"p_type": string }; Returns: number
                           },
"event_message_id":
{ Args: { "p_id": number }; Returns: string
                           },
"event_secret":
{ Args: Record<PropertyKey, never>; Returns: string
                           },
"fail_step":
{ Args: { "p_job": string,"p_message": string,"p_now"?: string,"p_reason": Database["public"]['Enums']["failure_reason"],"p_retryable": boolean,"p_step": Database["public"]['Enums']["job_step"],"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"fail_webhook_delivery":
{ Args: { "p_id": string,"p_message": string,"p_now": string }; Returns: undefined
                           },
"finish_reingest":
{ Args: { "p_job": string,"p_message": string,"p_now"?: string,"p_owner": string,"p_reason": Database["public"]['Enums']["failure_reason"],"p_size": number }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"held_job":
{ Args: { "p_job": string,"p_step": Database["public"]['Enums']["job_step"],"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"is_ingest_bucket":
{ Args: { "p_bucket": string }; Returns: boolean
                           },
"job_changed":
{ Args: { "n": Omit<Database["public"]['Tables']["processing_jobs"]['Row'], Database["public"]['Tables']["processing_jobs"]['ComputedFields']>,"o": Omit<Database["public"]['Tables']["processing_jobs"]['Row'], Database["public"]['Tables']["processing_jobs"]['ComputedFields']>,"p_note": string,"p_now": string }; Returns: undefined
                           },
"job_event_target":
{ Args: { "p_status": Database["public"]['Enums']["job_status"] }; Returns: Database["public"]['Enums']["pipeline_function"]
                           },
"lock_job":
{ Args: { "p_job": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"lock_webhook_delivery":
{ Args: { "p_id": string }; Returns: {
              "attempts": number,
"created_at": string,
"delivered_at": string | null,
"endpoint_id": string,
"finished_at": string | null,
"id": string,
"job_id": string,
"last_error": string | null,
"last_status_code": number | null,
"message_id": string,
"next_attempt_at": string,
"owner_id": string | null,
"replays": number,
"sending_event": number | null,
"sending_round": number | null,
"sending_until": string | null,
"status": Database["public"]['Enums']["webhook_delivery_status"]
            }
                          SetofOptions: {
        from: "*"
        to: "webhook_deliveries"
        isOneToOne: true
        isSetofReturn: false
      } },
"mark_playable":
{ Args: { "p_artifacts": Json,"p_job": string,"p_now"?: string,"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"outbox_event":
{ Args: { "p_message_id": string }; Returns: {
              "attempts": number,
"available_at": string,
"created_at": string,
"dead_at": string | null,
"delivered_at": string | null,
"id": number,
"last_error": string | null,
"payload": NonNullable<Json>,
"subject_id": string,
"subject_kind": Database["public"]['Enums']["event_subject"],
"target": Database["public"]['Enums']["pipeline_function"]
            }
                          SetofOptions: {
        from: "*"
        to: "event_outbox"
        isOneToOne: true
        isSetofReturn: false
      } },
"reconcile_event_requests":
{ Args: { "p_now"?: string }; Returns: number
                           },
"record_artifacts":
{ Args: { "p_artifacts": Json,"p_now": string,"p_owner": string,"p_video": string }; Returns: undefined
                           },
"record_webhook_attempt":
{ Args: { "p_claim": string,"p_error": string,"p_id": string,"p_latency_ms": number,"p_now"?: string,"p_response_body": string,"p_retry_at": string,"p_status_code": number }; Returns: {
              "attempts": number,
"created_at": string,
"delivered_at": string | null,
"endpoint_id": string,
"finished_at": string | null,
"id": string,
"job_id": string,
"last_error": string | null,
"last_status_code": number | null,
"message_id": string,
"next_attempt_at": string,
"owner_id": string | null,
"replays": number,
"sending_event": number | null,
"sending_round": number | null,
"sending_until": string | null,
"status": Database["public"]['Enums']["webhook_delivery_status"]
            }
                          SetofOptions: {
        from: "*"
        to: "webhook_deliveries"
        isOneToOne: true
        isSetofReturn: false
      } },
"renew_lease":
{ Args: { "p_job": string,"p_lease_seconds": number,"p_now"?: string,"p_worker": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"replay_webhook_delivery":
{ Args: { "p_id": string,"p_now"?: string }; Returns: {
              "attempts": number,
"created_at": string,
"delivered_at": string | null,
"endpoint_id": string,
"finished_at": string | null,
"id": string,
"job_id": string,
"last_error": string | null,
"last_status_code": number | null,
"message_id": string,
"next_attempt_at": string,
"owner_id": string | null,
"replays": number,
"sending_event": number | null,
"sending_round": number | null,
"sending_until": string | null,
"status": Database["public"]['Enums']["webhook_delivery_status"]
            }
                          SetofOptions: {
        from: "*"
        to: "webhook_deliveries"
        isOneToOne: true
        isSetofReturn: false
      } },
"report_progress":
{ Args: { "p_done": number,"p_job": string,"p_now"?: string,"p_stage": string,"p_total": number,"p_unit": string,"p_worker": string }; Returns: undefined
                           },
"requeue_job":
{ Args: { "p_job": string,"p_now"?: string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"retry_backoff":
{ Args: { "p_attempt": number }; Returns: string
                           },
"retry_job":
{ Args: { "p_job": string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"retry_outbox":
{ Args: { "p_error": string,"p_id": number,"p_max_attempts": number,"p_now"?: string,"p_permanent"?: boolean }; Returns: {
              "attempts": number,
"available_at": string,
"created_at": string,
"dead_at": string | null,
"delivered_at": string | null,
"id": number,
"last_error": string | null,
"payload": NonNullable<Json>,
"subject_id": string,
"subject_kind": Database["public"]['Enums']["event_subject"],
"target": Database["public"]['Enums']["pipeline_function"]
            }
                          SetofOptions: {
        from: "*"
        to: "event_outbox"
        isOneToOne: true
        isSetofReturn: false
      } },
"scheduled_jobs":
{ Args: Record<PropertyKey, never>; Returns: {
              "command": string,"name": string
            }[]
                           },
"send_due_events":
{ Args: Record<PropertyKey, never>; Returns: undefined
                           },
"set_webhook_endpoint_enabled":
{ Args: { "p_enabled": boolean,"p_id": string,"p_now"?: string,"p_owner"?: string }; Returns: boolean
                           },
"settle_dead_event":
{ Args: { "e": Omit<Database["public"]['Tables']["event_outbox"]['Row'], Database["public"]['Tables']["event_outbox"]['ComputedFields']>,"p_now": string,"p_permanent": boolean }; Returns: undefined
                           },
"settle_outbox_attempt":
{ Args: { "p_detail": string,"p_id": number,"p_max_attempts": number,"p_now"?: string,"p_status_code": number }; Returns: string
                           },
"sign_event":
{ Args: { "p_body": string,"p_id": string,"p_secret": string,"p_timestamp": number }; Returns: string
                           },
"step_of":
{ Args: { "p_status": Database["public"]['Enums']["job_status"] }; Returns: Database["public"]['Enums']["job_step"]
                           },
"step_running_status":
{ Args: { "p_step": Database["public"]['Enums']["job_step"] }; Returns: Database["public"]['Enums']["job_status"]
                           },
"step_waiting_status":
{ Args: { "p_step": Database["public"]['Enums']["job_step"] }; Returns: Database["public"]['Enums']["job_status"]
                           },
"subject_table":
{ Args: { "p_kind": Database["public"]['Enums']["event_subject"] }; Returns: Record<string, unknown>
                           },
"sweep":
{ Args: { "p_now"?: string,"p_stale_seconds"?: number }; Returns: {
              "action": string,"subject_id": string
            }[]
                           },
"transition_job":
{ Args: { "p_job": string,"p_lease_seconds"?: number,"p_message"?: string,"p_note"?: string,"p_now": string,"p_reason"?: Database["public"]['Enums']["failure_reason"],"p_to": Database["public"]['Enums']["job_status"],"p_worker"?: string }; Returns: {
              "attempts": number,
"created_at": string,
"failed_step": Database["public"]['Enums']["job_step"] | null,
"finished_at": string | null,
"id": string,
"last_error": string | null,
"lease_expires_at": string | null,
"lease_owner": string | null,
"max_attempts": number,
"owner_id": string | null,
"progress_done": number | null,
"progress_stage": string | null,
"progress_total": number | null,
"progress_unit": string | null,
"reason_code": Database["public"]['Enums']["failure_reason"] | null,
"retries": number,
"retry_requested_at": string | null,
"run_after": string,
"status": Database["public"]['Enums']["job_status"],
"updated_at": string,
"video_id": string
            }
                          SetofOptions: {
        from: "*"
        to: "processing_jobs"
        isOneToOne: true
        isSetofReturn: false
      } },
"webhook_payload":
{ Args: { "j": Omit<Database["public"]['Tables']["processing_jobs"]['Row'], Database["public"]['Tables']["processing_jobs"]['ComputedFields']>,"p_now": string,"p_type": Database["public"]['Enums']["webhook_event_type"] }; Returns: Json
                           },
"webhook_sender_lost":
{ Args: { "p_id": string,"p_now"?: string }; Returns: {
              "attempts": number,
"created_at": string,
"delivered_at": string | null,
"endpoint_id": string,
"finished_at": string | null,
"id": string,
"job_id": string,
"last_error": string | null,
"last_status_code": number | null,
"message_id": string,
"next_attempt_at": string,
"owner_id": string | null,
"replays": number,
"sending_event": number | null,
"sending_round": number | null,
"sending_until": string | null,
"status": Database["public"]['Enums']["webhook_delivery_status"]
            }
                          SetofOptions: {
        from: "*"
        to: "webhook_deliveries"
        isOneToOne: true
        isSetofReturn: false
      } },
"webhook_sending_until":
{ Args: { "d": Omit<Database["public"]['Tables']["webhook_deliveries"]['Row'], Database["public"]['Tables']["webhook_deliveries"]['ComputedFields']>,"p_now": string }; Returns: string
                           }
          }
          Enums: {
            "delivery_carrier": "dispatcher"|"pg_net","event_subject": "storage_object"|"job"|"webhook_delivery","failure_reason": "bad_path"|"path_not_owned"|"unknown_owner"|"unknown_bucket"|"object_missing"|"empty_file"|"too_large"|"too_long"|"not_a_video"|"unsupported_container"|"truncated"|"bad_dimensions"|"frame_rate_too_high"|"too_many_frames"|"too_many_pixels"|"too_many_streams"|"undecodable"|"media_error"|"event_rejected"|"retries_exhausted"|"internal_error","job_status": "queued"|"processing"|"processed"|"describing"|"ready"|"failed","job_step": "ingest"|"process"|"generate_metadata","pipeline_function": "ingest"|"process"|"generate_metadata"|"notify","webhook_delivery_status": "pending"|"sending"|"delivered"|"failed"|"cancelled","webhook_event_type": "video.ingested"|"video.playable"|"video.processed"|"video.ready"|"video.failed"
          }
          CompositeTypes: {
            [_ in never]: never
          }
        }
}

type DatabaseWithoutInternals = Omit<Database, '__InternalSupabase'>

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
  ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
      Row: infer R
    }
    ? R
    : never
  : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
  ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Insert: infer I
    }
    ? I
    : never
  : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
  ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Update: infer U
    }
    ? U
    : never
  : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never
> = DefaultSchemaEnumNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
  ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
  : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never
> = PublicCompositeTypeNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
  ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
  : never

export const Constants = {
  "public": {
          Enums: {
            "delivery_carrier": ["dispatcher", "pg_net"],"event_subject": ["storage_object", "job", "webhook_delivery"],"failure_reason": ["bad_path", "path_not_owned", "unknown_owner", "unknown_bucket", "object_missing", "empty_file", "too_large", "too_long", "not_a_video", "unsupported_container", "truncated", "bad_dimensions", "frame_rate_too_high", "too_many_frames", "too_many_pixels", "too_many_streams", "undecodable", "media_error", "event_rejected", "retries_exhausted", "internal_error"],"job_status": ["queued", "processing", "processed", "describing", "ready", "failed"],"job_step": ["ingest", "process", "generate_metadata"],"pipeline_function": ["ingest", "process", "generate_metadata", "notify"],"webhook_delivery_status": ["pending", "sending", "delivered", "failed", "cancelled"],"webhook_event_type": ["video.ingested", "video.playable", "video.processed", "video.ready", "video.failed"]
          }
        }
} as const
