-- Placeholder: number 0010 is another branch's (issue 15's helpers). Migrations are
-- numbered without gaps, so this branch carries an empty one to apply 0011;
-- drop this file when merging the branch that owns 0010.
SELECT 1;
