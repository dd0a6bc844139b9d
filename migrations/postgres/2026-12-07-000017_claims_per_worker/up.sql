-- On a Citus coordinator: the ID numbers' claims and the same-name keys get one shard per
-- worker (the other distributed tables keep `citus.shard_count`). A registration writes a
-- claim for each of its members' ID numbers and a key for each current member in one
-- multi-row INSERT each; the coordinator sends one task per shard those rows fall on, one
-- round trip after another on its one connection to each worker. With one shard per worker
-- a registration's claims go in with at most one task per worker (about 2 instead of 4 at
-- 8 shards), and its keys likewise. Both tables are small and read by key (an index lookup
-- in a shard), so more shards buy no parallelism for them. A cluster that adds workers can
-- spread them again with `alter_distributed_table(..., shard_count := N)`.
-- Elsewhere (one PostgreSQL) nothing changes.
DO $citus$
DECLARE
    workers integer;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        SELECT greatest(count(*), 1) INTO workers
        FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 AND isactive;
        -- alter_distributed_table refuses a call that changes nothing (a database whose
        -- citus.shard_count is already one per worker).
        IF (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'id_number_claims'::regclass) <> workers THEN
            PERFORM alter_distributed_table('id_number_claims', shard_count => workers, cascade_to_colocated => false);
        END IF;
        IF (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'member_name_keys'::regclass) <> workers THEN
            PERFORM alter_distributed_table('member_name_keys', shard_count => workers, cascade_to_colocated => false);
        END IF;
    END IF;
END
$citus$;
