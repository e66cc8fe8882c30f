-- 0003_tickets.sql: leave a fifth of each tickets page free, so that the update every
-- linked report makes (counts, priority inputs, priority, SLA) can be a heap-only tuple update:
-- the new row version stays on its page and no index gets a new entry, as long as no indexed
-- column (id, target_id, state, opened_at) changes. Pages written before keep their old fill.
ALTER TABLE tickets SET (fillfactor = 80);

-- A ticket is opened by its first report: both times default to the opening transaction's.
-- (The ingest service then leaves them out of the rows it copies in: two timestamps a ticket less
-- to encode.)
ALTER TABLE tickets ALTER COLUMN first_reported_at SET DEFAULT now(),
                    ALTER COLUMN last_reported_at SET DEFAULT now();
