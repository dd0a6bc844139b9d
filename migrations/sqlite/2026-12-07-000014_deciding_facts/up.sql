-- The facts the last catalogue schemes decide on (issue 12, item 8), all nullable so every
-- existing household and member reads them as unknown until a clerk records them.
-- Keep this file and its PostgreSQL twin in step.
--
-- A member removed with the reason `deceased` keeps its row (and its eobi_*/essi_* and
-- employment columns, now the deceased's insurance status); date_of_death is set only on
-- such a member. The rules read the deceased's facts as household values (docs/DATA.md).

ALTER TABLE households ADD COLUMN owns_residential_plot BOOLEAN;
ALTER TABLE members ADD COLUMN institution_type TEXT;
ALTER TABLE members ADD COLUMN pension_drawn TEXT;
ALTER TABLE members ADD COLUMN years_of_service INTEGER;
ALTER TABLE members ADD COLUMN employment_injury BOOLEAN;
ALTER TABLE members ADD COLUMN certified_unfit BOOLEAN;
ALTER TABLE members ADD COLUMN protection_need BOOLEAN;
ALTER TABLE members ADD COLUMN substance_use BOOLEAN;
ALTER TABLE members ADD COLUMN marriage_arranged BOOLEAN;
ALTER TABLE members ADD COLUMN date_of_death DATE;
