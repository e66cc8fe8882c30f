-- 0004_ticket_opened_at.sql: a ticket's opened_at is the moment its row is written, not the
-- start of the transaction that writes it. Tickets of one target are opened one after another
-- under the target's row lock (sql/queries/ingest.sql lock_targets), so clock_timestamp() orders
-- them as they happened; now() did not: a batch that began earlier but waited for the lock
-- opened its ticket later with an earlier time, and the next recurrence then followed the wrong
-- ticket ("the target's last ticket" is read ORDER BY opened_at DESC).
ALTER TABLE tickets ALTER COLUMN opened_at SET DEFAULT clock_timestamp();
-- SLA due times are unchanged: they run from first_reported_at, the receipt of the ticket's
-- first notice (its opening transaction's now()).
