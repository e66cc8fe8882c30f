-- 0003_tickets_fillfactor.sql: leave a fifth of each tickets page free, so that the update every
-- linked report makes (counts, priority inputs, priority, SLA) can be a heap-only tuple update:
-- the new row version stays on its page and no index gets a new entry, as long as no indexed
-- column (id, target_id, state, opened_at) changes. Pages written before keep their old fill.
ALTER TABLE tickets SET (fillfactor = 80);
