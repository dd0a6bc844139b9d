-- What each undetermined decision is waiting for, kept with the household's decisions so the
-- gaps report can rank the fields to collect without re-running the rules over the registry:
-- `scheme-id:field+field;scheme-id:field` (registry field names, each once per scheme), ''
-- when nothing is undetermined, NULL where it has not been worked out yet (rows written
-- before this migration, until the next re-screening or change to the household).
ALTER TABLE household_decisions ADD COLUMN missing TEXT;
