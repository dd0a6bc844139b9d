-- Shard counts are a placement choice, not a schema change: nothing to undo.
SELECT 1;
