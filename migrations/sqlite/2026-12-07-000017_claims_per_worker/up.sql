-- Citus only (one shard per worker for the ID numbers' claims and the same-name keys).
SELECT 1;
