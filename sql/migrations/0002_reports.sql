-- 0002_reports.sql: report batches, canonical targets, reports (notices) and takedown tickets:
-- one open ticket per target (DESIGN: The report schema; Canonicalisation and deduplication;
-- Tickets). Dedup is done by unique indexes and INSERT ... ON CONFLICT, never read-then-write.
--
-- No FOREIGN KEYs on the ingest path (targets, tickets, reports): PostgreSQL checks them with one
-- trigger query per inserted row, measured at about 40% of a 10,000-report batch's insert time.
-- The ingest service writes a batch's targets, tickets and reports in one transaction, rows are
-- never deleted, and the columns that refer elsewhere say so in their comments.

-- Time-ordered UUIDs (RFC 9562 version 7: 48-bit Unix milliseconds, then random bits) for the
-- ids of the rows ingest writes in bulk: new keys land at the right edge of their B-trees instead
-- of on random pages (measured on a 500k-row table with two uuid indexes: a third less insert
-- time; PostgreSQL 15 has no built-in uuidv7()). The ids stay opaque but tell their creation
-- time.
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                PLACING substring(int8send(
                                    (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                    FROM 3)
                                FROM 1 FOR 6),
                        52, 1),
                53, 1),
        'hex')::uuid
$$;

-- Target kinds; keys and canonical forms are fraudchannel.canonical's (examples: key | shown).
CREATE TYPE target_kind AS ENUM (
    'url',               -- evil.example/login | https://evil.example/login (http(s) keyless)
    'platform_account',  -- handle:foo | @foo (or an account id or profile URL)
    'phone',             -- +447700900123 (E.164)
    'email',             -- john.doe@example.com
    'uk_bank_account',   -- 202015-55555555 | 20-20-15 55555555 (a GB IBAN lands here too)
    'iban',              -- DE89370400440532013000 (non-GB IBANs)
    'crypto_wallet',     -- evm:0x5290... (lower-case) | evm:0x5290... (checksummed)
    'payment_handle');   -- paypal:x@y.com

-- A thing reporters name, in canonical form. Identity is (kind, key); the index holds the key's
-- SHA-256 (written by the service, sha256 of the UTF-8 key) because a key may outgrow a btree
-- entry (about 2.7 kB) and 32 bytes index faster than long URLs.
CREATE TABLE targets (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                target_kind NOT NULL,
    key                 text NOT NULL,
    key_sha256          bytea NOT NULL,
    canonical           text NOT NULL,           -- what is shown (keeps the URL scheme)
    registrable_domain  text,                    -- Public Suffix List; URLs and e-mail only
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT targets_kind_key_sha256_key UNIQUE (kind, key_sha256),
    CONSTRAINT targets_key_sha256_check CHECK (octet_length(key_sha256) = 32)
);

CREATE TYPE ticket_state AS ENUM (
    'open',        -- in the queue; new reports of the target link here
    'in_review',   -- claimed: lease_holder holds it until lease_expires_at, then back to open
    'needs_info',  -- the platform asked the reporters for more; -> open when one adds it
    'appealed',    -- a reporter appealed a no_action (within 6 months); reviewed again
    'actioned',    -- final: the platform restricted the target; a later report opens a recurrence
    'no_action');  -- final: decided not to act, with a reason; appealable, a later report reopens

CREATE TYPE ticket_band AS ENUM (
    'P1', 'P2', 'P3', 'P4');  -- priority bands, P1 most urgent (fraudchannel.priority.BANDS)

-- The platform's unit of work: one takedown decision about one target. Counts and the priority
-- inputs are kept up to date by the ingest service as reports link in (DSA Art 22(1): trusted
-- flaggers' notices first).
CREATE TABLE tickets (
    id                 uuid PRIMARY KEY DEFAULT uuid_v7(),
    target_id          bigint NOT NULL,                 -- targets.id
    state              ticket_state NOT NULL DEFAULT 'open',
    priority           smallint NOT NULL DEFAULT 0,
    band               ticket_band NOT NULL DEFAULT 'P4',
    priority_reasons   jsonb NOT NULL DEFAULT '[]',    -- [{code, points, detail}]
    sla_due_at         timestamptz,                     -- opened_at + the band's SLA
    report_count       integer NOT NULL DEFAULT 0,
    org_count          integer NOT NULL DEFAULT 0,      -- distinct reporting organisations
    best_trust_tier    smallint,                        -- most trusted reporter's tier (1 best)
    max_loss_major     double precision,                -- largest single loss, major units
    victim_count       bigint NOT NULL DEFAULT 0,       -- sum over reports
    scam_types         text[] NOT NULL DEFAULT '{}',    -- distinct scam types reported
    first_reported_at  timestamptz,
    last_reported_at   timestamptz,
    lease_holder       text,                            -- who claimed it (in_review)
    lease_expires_at   timestamptz,
    decided_at         timestamptz,
    recurrence_of      uuid,                            -- tickets.id of the decided ticket before
    opened_at          timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tickets_priority_check CHECK (priority BETWEEN 0 AND 100),
    CONSTRAINT tickets_lease_check CHECK ((lease_holder IS NULL) = (lease_expires_at IS NULL))
);
-- One open ticket per target: the dedup constraint of the whole channel.
CREATE UNIQUE INDEX tickets_one_open_per_target ON tickets (target_id)
    WHERE state IN ('open', 'in_review', 'needs_info', 'appealed');
-- A target's tickets, newest first (the last decided one is what a recurrence links to).
CREATE INDEX tickets_target_id_opened_at ON tickets (target_id, opened_at DESC);

-- One POST /v1/report-batches: its envelope facts and the answer given, kept for GET and replay.
CREATE TABLE report_batches (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id          uuid NOT NULL REFERENCES organisations (id),
    received_at     timestamptz NOT NULL DEFAULT now(),
    request_sha256  bytea NOT NULL,
    submitter       jsonb NOT NULL,              -- {name, email} (DSA Art 16(2)(c))
    good_faith      boolean NOT NULL,            -- the bona fide statement (DSA Art 16(2)(d))
    item_count      integer NOT NULL,
    counts          jsonb,                       -- {accepted, rejected, new_ticket, ...}
    response        json COMPRESSION lz4,        -- the 202 body as sent; json keeps it byte-exact
    CONSTRAINT report_batches_good_faith_check CHECK (good_faith)
);
CREATE INDEX report_batches_org_id_received_at ON report_batches (org_id, received_at);

-- Idempotency-Key header values: the same key and body from the same organisation replays the
-- stored answer; the same key with another body is refused.
CREATE TABLE idempotency_keys (
    org_id          uuid NOT NULL REFERENCES organisations (id),
    key             text NOT NULL,
    request_sha256  bytea NOT NULL,
    batch_id        uuid NOT NULL REFERENCES report_batches (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (org_id, key)
);

CREATE TYPE report_outcome AS ENUM (
    'new_ticket',                -- first report of the target: opened its ticket
    'linked_to_open_ticket',     -- the target had an open ticket: linked, priority recomputed
    'recurrence_after_action');  -- the target's last ticket was actioned: a new, linked ticket

-- One notice (DSA Art 16): one item of a batch, with the item exactly as sent (`body`, raw target
-- included) beside its canonical target. `client_ref` is the reporter's idempotency key.
CREATE TABLE reports (
    id               uuid PRIMARY KEY DEFAULT uuid_v7(),
    seq              bigint GENERATED ALWAYS AS IDENTITY,  -- keyset cursor tie-breaker
    org_id           uuid NOT NULL,                        -- organisations.id
    batch_id         uuid NOT NULL,                        -- report_batches.id
    item_index       integer NOT NULL,                     -- position in the batch
    client_ref       text NOT NULL,
    target_id        bigint NOT NULL,                      -- targets.id
    target_kind      target_kind NOT NULL,                 -- copy of targets.kind, for filters
    ticket_id        uuid NOT NULL,                        -- tickets.id
    outcome          report_outcome NOT NULL,
    scam_type        text NOT NULL,                        -- fraudchannel.taxonomy.SCAM_TYPES
    loss_major       double precision,                     -- victim_loss in major units
    victim_count     integer,
    observed_at      timestamptz,
    target_evidence  jsonb,                                -- what canonicalisation left out
    body             json NOT NULL,                        -- the item as sent (json: kept as text)
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reports_org_client_ref_key UNIQUE (org_id, client_ref),
    CONSTRAINT reports_client_ref_check CHECK (length(client_ref) BETWEEN 1 AND 128)
);
-- GET /v1/reports: the caller's own reports by (created_at, seq); its filters (kind, scam type,
-- outcome, ...) are applied while walking this index. One index per filter was measured at about
-- a third of the insert time of a batch's reports, the ingest path's largest statement.
CREATE INDEX reports_org_id_created_at ON reports (org_id, created_at, seq);
-- A ticket's notices and their organisations: whom to tell the decision (DSA Art 16(5)), and
-- whether an organisation reported a ticket before (org_count counts distinct organisations).
CREATE INDEX reports_ticket_id_org_id ON reports (ticket_id, org_id);

-- Other targets a report names ("the account behind this URL"): stored, not ticketed.
CREATE TABLE report_related_targets (
    report_id  uuid NOT NULL REFERENCES reports (id),
    target_id  bigint NOT NULL REFERENCES targets (id),
    position   smallint NOT NULL,                 -- index in the item's `related` list
    CONSTRAINT report_related_targets_pkey PRIMARY KEY (report_id, position)
);
CREATE INDEX report_related_targets_target_id ON report_related_targets (target_id);
