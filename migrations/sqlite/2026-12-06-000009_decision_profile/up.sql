-- The household's people as the monitoring reports count them, kept with its decisions and
-- written whenever they are: per current member, the sex, the date of birth and whether they
-- have a disability or are pregnant or breastfeeding (`m19850101-,f19500101d`; see
-- src/reports/profile.rs). A report then reads one short text per household instead of every
-- member row. NULL for rows written before this migration, until the household's next change
-- or re-screening (the reports read those households' members instead).
ALTER TABLE household_decisions ADD COLUMN profile TEXT;
