-- MERGE bumps like the statements it stands for: one bump per (tenant,
-- domain) it touches. Runs after versions (its tables, snapshot() and
-- bumps()). PostgreSQL 14 has no MERGE: expected/merge_1.out is its answer.
SET search_path = regress, public;
\set t1 '''00000000-0000-0000-0000-000000000001'''
-- An update of a tenant 3 row and an insert for tenant 1.
SELECT snapshot();
MERGE INTO tv_contract c USING (VALUES (5, 'merged'), (30000, 'merged-new')) v(id, name) ON c.id = v.id
WHEN MATCHED THEN UPDATE SET name = v.name
WHEN NOT MATCHED THEN INSERT VALUES (v.id, :t1, v.name);
SELECT * FROM bumps();
-- A delete of a tenant 2 row; the unmatched source row does nothing.
SELECT snapshot();
MERGE INTO tv_contract c USING (VALUES (10), (-1)) v(id) ON c.id = v.id
WHEN MATCHED THEN DELETE;
SELECT * FROM bumps();
