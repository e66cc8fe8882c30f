-- Queries of fraudchannel.reports: a reporter reading its own batches and reports. Every query
-- is scoped by org_id: another organisation's id reads as unknown.

-- name: get_batch
-- The answer given to one of the organisation's batches, exactly as sent. One row or none.
-- $1 batch id uuid, $2 org_id uuid
SELECT response::text AS response
  FROM report_batches
 WHERE id = $1::uuid AND org_id = $2::uuid;

-- name: get_report
-- One of the organisation's reports with its target and its ticket's state. One row or none.
-- $1 report id uuid, $2 org_id uuid
SELECT r.id, r.client_ref, r.batch_id, r.item_index, r.created_at, r.outcome::text AS outcome,
       r.scam_type, r.ticket_id, r.body, t.kind::text AS target_type, t.canonical,
       t.registrable_domain, k.state::text AS status, k.decided_at, r.seq
  FROM reports AS r
  JOIN targets AS t ON t.id = r.target_id
  JOIN tickets AS k ON k.id = r.ticket_id
 WHERE r.id = $1::uuid AND r.org_id = $2::uuid;

-- name: custom_plans
-- Plan list_reports and list_batches for the filters actually given (a generic plan of its "$n IS NULL OR ..."
-- conditions could not use the per-filter indexes). For the current transaction only.
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: list_reports
-- The organisation's reports by (created_at, seq), after the keyset cursor ($9, $10), at most
-- $11 rows; a NULL filter is no filter. Rows as get_report without body.
-- $1 org_id uuid, $2 target_kind text, $3 scam_type text, $4 outcome text, $5 ticket state
-- text, $6 created_after timestamptz, $7 created_before timestamptz, $8 client_ref text,
-- $9 cursor created_at timestamptz, $10 cursor seq bigint, $11 limit integer
SELECT r.id, r.client_ref, r.batch_id, r.item_index, r.created_at, r.outcome::text AS outcome,
       r.scam_type, r.ticket_id, t.kind::text AS target_type, t.canonical, t.registrable_domain,
       k.state::text AS status, k.decided_at, r.seq
  FROM reports AS r
  JOIN targets AS t ON t.id = r.target_id
  JOIN tickets AS k ON k.id = r.ticket_id
 WHERE r.org_id = $1::uuid
   AND ($2::text IS NULL OR r.target_kind = $2::text::target_kind)
   AND ($3::text IS NULL OR r.scam_type = $3::text)
   AND ($4::text IS NULL OR r.outcome = $4::text::report_outcome)
   AND ($5::text IS NULL OR k.state = $5::text::ticket_state)
   AND ($6::timestamptz IS NULL OR r.created_at >= $6::timestamptz)
   AND ($7::timestamptz IS NULL OR r.created_at < $7::timestamptz)
   AND ($8::text IS NULL OR r.client_ref = $8::text)
   AND ($9::timestamptz IS NULL OR (r.created_at, r.seq) > ($9::timestamptz, $10::bigint))
 ORDER BY r.created_at, r.seq
 LIMIT $11::integer;

-- name: list_batches
-- The organisation's batches by (received_at, id), after the keyset cursor ($4, $5), at most $6
-- rows; a NULL filter is no filter. Walks report_batches_org_id_received_at; ties on received_at
-- are ordered by id. `counts` is written in the batch's own transaction, so a committed batch
-- has it. Rows: id, received_at, submitter {name, email}, item_count, counts {accepted,
-- rejected, new_ticket, linked_to_open_ticket, recurrence_after_action, duplicate_of_own_report}.
-- $1 org_id uuid, $2 received_after timestamptz, $3 received_before timestamptz,
-- $4 cursor received_at timestamptz, $5 cursor id uuid, $6 limit integer
SELECT b.id, b.received_at, b.submitter, b.item_count, b.counts
  FROM report_batches AS b
 WHERE b.org_id = $1::uuid
   AND ($2::timestamptz IS NULL OR b.received_at >= $2::timestamptz)
   AND ($3::timestamptz IS NULL OR b.received_at < $3::timestamptz)
   AND ($4::timestamptz IS NULL OR (b.received_at, b.id) > ($4::timestamptz, $5::uuid))
 ORDER BY b.received_at, b.id
 LIMIT $6::integer;
