-- Queries of fraudchannel.ingest: storing one report batch in one transaction. Every step is one
-- set-based statement over unnest() arrays; rows are handled in a fixed sort order so concurrent
-- batches wait for each other instead of deadlocking. Rows whose every value the service knows
-- (reports, and the first ticket of a target the batch created) are written with COPY instead:
-- fraudchannel.dedup.REPORT_COLUMNS and TICKET_COLUMNS.

-- name: open_batch
-- Record a batch (its answer is written by finish_batch) and claim its Idempotency-Key, if any.
-- A concurrent request with the same key waits here until the first commits, then finds the key
-- taken. Returns one row: id, received_at, key_claimed (false: the key is taken).
-- $1 org_id uuid, $2 request_sha256 bytea, $3 submitter jsonb, $4 item_count integer,
-- $5 idempotency key text (NULL: none)
WITH batch AS (
    INSERT INTO report_batches (org_id, request_sha256, submitter, good_faith, item_count)
    VALUES ($1::uuid, $2::bytea, $3::jsonb, true, $4::integer)
    RETURNING id, received_at
), claimed AS (
    INSERT INTO idempotency_keys (org_id, key, request_sha256, batch_id)
    SELECT $1::uuid, $5::text, $2::bytea, batch.id
      FROM batch
     WHERE $5::text IS NOT NULL
        ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING
    RETURNING key
)
SELECT batch.id, batch.received_at,
       ($5::text IS NULL OR EXISTS (SELECT 1 FROM claimed)) AS key_claimed
  FROM batch;

-- name: idempotent_answer
-- The stored request hash and answer of an organisation's Idempotency-Key. One row or none.
-- $1 org_id uuid, $2 key text
SELECT k.request_sha256, b.response::text AS response
  FROM idempotency_keys AS k
  JOIN report_batches AS b ON b.id = k.batch_id
 WHERE k.org_id = $1::uuid AND k.key = $2::text;

-- name: own_reports
-- The organisation's stored reports among these client_refs (a re-sent client_ref is answered
-- with its stored report, nothing new). Rows: client_ref, id, ticket_id, kind, canonical,
-- registrable_domain, sla_due_at, body (the stored item's JSON text, to tell a changed re-send).
-- $1 org_id uuid, $2 client_refs text[]
SELECT r.client_ref, r.id, r.ticket_id, t.kind::text AS kind, t.canonical, t.registrable_domain,
       k.sla_due_at, r.body::text AS body
  FROM reports AS r
  JOIN targets AS t ON t.id = r.target_id
  JOIN tickets AS k ON k.id = r.ticket_id
 WHERE r.org_id = $1::uuid AND r.client_ref = ANY($2::text[]);

-- name: upsert_targets
-- Insert the targets not yet known, in the given order (the caller sorts by kind, key_sha256);
-- known ones are left as they are. Returns the rows inserted: id, kind, key_sha256 (the others
-- are read by target_ids, in a later statement that sees what concurrent batches committed).
-- $1 kinds text[], $2 keys text[], $3 key_sha256s bytea[], $4 canonicals text[],
-- $5 registrable_domains text[] (NULL elements allowed)
INSERT INTO targets (kind, key, key_sha256, canonical, registrable_domain)
SELECT t.kind::target_kind, t.key, t.key_sha256, t.canonical, t.registrable_domain
  FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[])
       WITH ORDINALITY AS t(kind, key, key_sha256, canonical, registrable_domain, ord)
 ORDER BY t.ord
    ON CONFLICT ON CONSTRAINT targets_kind_key_sha256_key DO NOTHING
RETURNING id, kind::text AS kind, key_sha256;

-- name: target_ids
-- The ids of these targets, in the order given. Each exists: upsert_targets ran first, in an
-- earlier statement, so rows other batches committed meanwhile are seen too.
-- $1 kinds text[], $2 key_sha256s bytea[]
SELECT t.id
  FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS i(kind, key_sha256, ord)
  JOIN targets AS t ON t.kind = i.kind::target_kind AND t.key_sha256 = i.key_sha256
 ORDER BY i.ord;

-- name: lock_targets
-- Lock the batch's main targets, in id order, in this one statement: every batch takes its
-- targets' locks first and in the same order, so batches naming the same targets queue here and
-- never deadlock (the tickets they then open or link are theirs alone until commit), and what
-- open_tickets reads of a target's tickets cannot change under it (only a decision can, and the
-- locked tickets' rows say so). FOR NO KEY UPDATE: the upsert's ON CONFLICT DO NOTHING and any
-- foreign key (FOR KEY SHARE) pass. Returns the number of rows locked.
-- $1 target_ids bigint[] (sorted)
SELECT count(*) FROM (
    SELECT t.id FROM targets AS t
     WHERE t.id = ANY($1::bigint[])
     ORDER BY t.id
       FOR NO KEY UPDATE
) AS locked;

-- name: open_tickets
-- Open a ticket, with the id, counts and priority given, for each of these known targets that
-- has none open (the caller sorts the target ids). A target whose last ticket was decided gets
-- a new one linked to it (recurrence_of). When a concurrent batch opens the same ticket first,
-- ours is skipped and the caller links to theirs. Returns the tickets opened here: id,
-- target_id, prev_state (the state of the ticket it follows; NULL for a target's first ticket),
-- read through recurrence_of (an index probe per row: joining the two CTEs was planned as a
-- nested loop, O(n^2)). Priority reasons and scam-type lists repeat across tickets: each row
-- names its entry of a short array ($8, $9) by position.
-- $1 ids uuid[], $2 target_ids bigint[] (sorted), $3 report_counts integer[],
-- $4 max_losses_major float8[], $5 victim_counts bigint[], $6 priorities smallint[],
-- $7 shapes integer[] (1-based positions in $8 and $9), $8 reasons text[] (JSON, one per shape;
-- read once, as an InitPlan), $9 scam_types text[] (comma-separated, one per shape),
-- $10 bands text[], $11 sla_due_ats timestamptz[], $12 best_trust_tier smallint (the reporting
-- organisation's)
WITH candidates AS (
    SELECT i.*, prev.id AS prev_id, prev.state AS prev_state
      FROM unnest($1::uuid[], $2::bigint[], $3::integer[], $4::float8[], $5::bigint[],
                  $6::smallint[], $7::integer[], $10::text[], $11::timestamptz[])
           WITH ORDINALITY AS i(id, target_id, report_count, max_loss_major, victim_count,
                                priority, shape, band, sla_due_at, ord)
      LEFT JOIN LATERAL (
            SELECT k.id, k.state
              FROM tickets AS k
             WHERE k.target_id = i.target_id
             ORDER BY k.opened_at DESC
             LIMIT 1
           ) AS prev ON true
     WHERE prev.id IS NULL OR prev.state IN ('actioned', 'no_action')
), opened AS (
    INSERT INTO tickets (id, target_id, recurrence_of, priority, band, priority_reasons,
                         sla_due_at, report_count, org_count, best_trust_tier, max_loss_major,
                         victim_count, scam_types, first_reported_at, last_reported_at)
    SELECT c.id, c.target_id, c.prev_id, c.priority, c.band::ticket_band,
           ((SELECT array_agg(r::jsonb ORDER BY o)
               FROM unnest($8::text[]) WITH ORDINALITY AS u(r, o)))[c.shape],
           c.sla_due_at, c.report_count, 1, $12::smallint, c.max_loss_major, c.victim_count,
           string_to_array(($9::text[])[c.shape], ','), now(), now()
      FROM candidates AS c
     ORDER BY c.ord
        ON CONFLICT (target_id) WHERE state IN ('open', 'in_review', 'needs_info', 'appealed')
        DO NOTHING
    RETURNING id, target_id, recurrence_of
)
SELECT o.id, o.target_id, p.state::text AS prev_state
  FROM opened AS o
  LEFT JOIN tickets AS p ON p.id = o.recurrence_of;

-- name: lock_open_tickets
-- Lock the open ticket of each target, by ticket id, and return its priority inputs. FOR NO KEY
-- UPDATE lets other batches' foreign keys (FOR KEY SHARE) through and keeps decisions out until
-- we commit. A target missing from the result had its ticket decided meanwhile: retry.
-- $1 target_ids bigint[]
SELECT k.id, k.target_id, k.report_count, k.org_count, k.best_trust_tier, k.max_loss_major,
       k.victim_count, k.scam_types, k.first_reported_at, k.opened_at
  FROM tickets AS k
 WHERE k.target_id = ANY($1::bigint[])
   AND k.state IN ('open', 'in_review', 'needs_info', 'appealed')
 ORDER BY k.id
   FOR NO KEY UPDATE;

-- name: reported_before
-- Which of these (locked) tickets the organisation reported before. Run after lock_open_tickets:
-- a batch we waited for has committed, and its reports are seen.
-- $1 ticket_ids uuid[], $2 org_id uuid
SELECT DISTINCT r.ticket_id
  FROM reports AS r
 WHERE r.ticket_id = ANY($1::uuid[]) AND r.org_id = $2::uuid;

-- name: link_related_targets
-- Link reports to the other targets they name. $1 report_ids uuid[], $2 target_ids bigint[],
-- $3 positions smallint[]
INSERT INTO report_related_targets (report_id, target_id, position)
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::smallint[]);

-- name: update_tickets
-- Write the new counts, priority inputs and priority of tickets locked by lock_open_tickets (the
-- ones this batch did not open).
-- $1 ids uuid[], $2 report_counts integer[], $3 org_counts integer[], $4 best_trust_tiers
-- smallint[], $5 max_losses_major float8[], $6 victim_counts bigint[], $7 scam_types text[]
-- (comma-separated), $8 first_reported_ats timestamptz[], $9 priorities smallint[], $10 bands
-- text[], $11 reasons text[] (JSON), $12 sla_due_ats timestamptz[]
UPDATE tickets AS k
   SET report_count = u.report_count,
       org_count = u.org_count,
       best_trust_tier = u.best_trust_tier,
       max_loss_major = u.max_loss_major,
       victim_count = u.victim_count,
       scam_types = string_to_array(u.scam_types, ','),
       first_reported_at = u.first_reported_at,
       last_reported_at = now(),
       priority = u.priority,
       band = u.band::ticket_band,
       priority_reasons = u.reasons::jsonb,
       sla_due_at = u.sla_due_at,
       updated_at = now()
  FROM unnest($1::uuid[], $2::integer[], $3::integer[], $4::smallint[], $5::float8[],
              $6::bigint[], $7::text[], $8::timestamptz[], $9::smallint[], $10::text[],
              $11::text[], $12::timestamptz[])
       AS u(id, report_count, org_count, best_trust_tier, max_loss_major, victim_count,
            scam_types, first_reported_at, priority, band, reasons, sla_due_at)
 WHERE k.id = u.id;

-- name: finish_batch
-- Keep the batch's counts and its answer exactly as sent (for GET and Idempotency-Key replays).
-- $1 batch id uuid, $2 counts jsonb, $3 response json (the bytes as sent)
UPDATE report_batches
   SET counts = $2::jsonb, response = $3::json
 WHERE id = $1::uuid;

-- name: count_tickets
-- How many tickets (in any state) these targets have: after the COPY of a batch's first tickets,
-- more than it wrote means a concurrent batch ticketed one of its new targets first.
-- $1 target_ids bigint[]
SELECT count(*) FROM tickets WHERE target_id = ANY($1::bigint[]);
