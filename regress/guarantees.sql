-- Ways rows enter or leave a tracked table that no row trigger sees, and
-- ways a version could go down: each must move (never lower) the versions
-- of every tenant whose data changed, seen before or not.
SET search_path = regress, public;
\set SHOW_CONTEXT never
\set t1 '''00000000-0000-0000-0000-00000000000a'''
\set t2 '''00000000-0000-0000-0000-00000000000b'''
\set t9 '''00000000-0000-0000-0000-0000000000f9'''
\set all '''00000000-0000-0000-0000-000000000000'''
CREATE FUNCTION v(tenant uuid, domain text) RETURNS bigint
LANGUAGE sql AS $$ SELECT fraiseql_cache.current_version(tenant, domain) $$;

-- ---- partition maintenance ----------------------------------------------
CREATE TABLE tv_part (id int, tenant_id uuid, name text) PARTITION BY LIST (tenant_id);
CREATE TABLE tv_part_a PARTITION OF tv_part FOR VALUES IN ('00000000-0000-0000-0000-00000000000a');
CREATE TABLE tv_part_b PARTITION OF tv_part FOR VALUES IN ('00000000-0000-0000-0000-00000000000b');
SELECT fraiseql_cache.setup_table_invalidation('tv_part');
INSERT INTO tv_part VALUES (1, :t1, 'a'), (2, :t2, 'b');
-- TRUNCATE of one partition (its own statement triggers only).
SELECT v(:t1, 'part') AS a, v(:t2, 'part') AS b, v(:t9, 'part') AS never \gset
TRUNCATE tv_part_a;
SELECT v(:t1, 'part') > :a AS truncated_tenant_moved, v(:t9, 'part') > :never AS unseen_tenant_moved;
-- DROP of a partition: its rows vanish.
INSERT INTO tv_part VALUES (3, :t1, 'again');
SELECT v(:t1, 'part') AS a \gset
DROP TABLE tv_part_a;
SELECT v(:t1, 'part') > :a AS dropped_partition_moved;
-- DETACH: the rows leave the table.
SELECT v(:t2, 'part') AS b \gset
ALTER TABLE tv_part DETACH PARTITION tv_part_b;
SELECT v(:t2, 'part') > :b AS detached_moved;
-- DETACH ... CONCURRENTLY: its first commit already hides the rows.
CREATE TABLE tv_part_d PARTITION OF tv_part FOR VALUES IN ('00000000-0000-0000-0000-00000000000d');
INSERT INTO tv_part VALUES (4, '00000000-0000-0000-0000-00000000000d', 'd');
SELECT v('00000000-0000-0000-0000-00000000000d', 'part') AS d \gset
ALTER TABLE tv_part DETACH PARTITION tv_part_d CONCURRENTLY;
SELECT v('00000000-0000-0000-0000-00000000000d', 'part') > :d AS detached_concurrently_moved;
DROP TABLE tv_part_d;
-- ATTACH of a table holding rows of a tenant the domain never saw.
CREATE TABLE tv_part_f (id int, tenant_id uuid, name text);
INSERT INTO tv_part_f VALUES (9, :t9, 'pre-existing');
SELECT v(:t9, 'part') AS never \gset
ALTER TABLE tv_part ATTACH PARTITION tv_part_f FOR VALUES IN ('00000000-0000-0000-0000-0000000000f9');
SELECT v(:t9, 'part') > :never AS attached_rows_moved;
-- A partition created later is tracked, its triggers ENABLE ALWAYS.
CREATE TABLE tv_part_c PARTITION OF tv_part FOR VALUES IN ('00000000-0000-0000-0000-00000000000c');
SELECT tgrelid::regclass, tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN ('tv_part_c'::regclass, 'tv_part_f'::regclass) AND NOT tgisinternal ORDER BY 1, 2;
-- DROP SCHEMA ... CASCADE with a tracked table in it.
CREATE SCHEMA doomed;
CREATE TABLE doomed.tv_gone (id int, tenant_id uuid);
SELECT fraiseql_cache.setup_table_invalidation('doomed.tv_gone');
INSERT INTO doomed.tv_gone VALUES (1, :t1);
SELECT v(:t1, 'gone') AS g \gset
SET client_min_messages = warning;
DROP SCHEMA doomed CASCADE;
RESET client_min_messages;
SELECT v(:t1, 'gone') > :g AS dropped_with_schema_moved;

-- ---- inheritance: refused, loudly ---------------------------------------
CREATE TABLE tv_inh (id int, tenant_id uuid);
CREATE TABLE tv_inh_child () INHERITS (tv_inh);
SELECT fraiseql_cache.setup_table_invalidation('tv_inh');
DROP TABLE tv_inh_child;
SELECT fraiseql_cache.setup_table_invalidation('tv_inh');
CREATE TABLE tv_inh_late () INHERITS (tv_inh);
CREATE TABLE tv_inh_other (id int, tenant_id uuid);
ALTER TABLE tv_inh_other INHERIT tv_inh;

-- ---- pre-existing rows: whole-domain bumps move every tenant ------------
CREATE TABLE tv_pre (id int, tenant_id uuid, name text);
INSERT INTO tv_pre VALUES (1, :t9, 'before tracking');
SELECT fraiseql_cache.setup_table_invalidation('tv_pre');
SELECT v(:t9, 'pre') AS p \gset
TRUNCATE tv_pre;
SELECT v(:t9, 'pre') > :p AS truncate_moved_unseen_tenant;
INSERT INTO tv_pre VALUES (2, :t2, 'seen');
SELECT v(:t2, 'pre') AS seen, v(:t9, 'pre') AS unseen \gset
SELECT fraiseql_cache.invalidate_domain('pre');
SELECT v(:t2, 'pre') - :seen AS seen_tenant_step, v(:t9, 'pre') > :unseen AS invalidate_domain_moved_unseen;
SELECT v(:t9, 'pre') AS unseen \gset
ALTER TABLE tv_pre ADD COLUMN flag boolean DEFAULT true;
SELECT v(:t9, 'pre') > :unseen AS add_column_default_moved_unseen;

-- ---- trigger state: the bulk-load idiom keeps the triggers ALWAYS -------
ALTER TABLE tv_pre DISABLE TRIGGER ALL;
SELECT trigger_enabled FROM fraiseql_cache.v_invalidation_status WHERE table_name = 'tv_pre';
SELECT v(:t2, 'pre') AS seen \gset
ALTER TABLE tv_pre ENABLE TRIGGER ALL;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'tv_pre'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT v(:t2, 'pre') > :seen AS reenabling_moved;
SELECT v(:t2, 'pre') AS seen \gset
SET session_replication_role = replica;
INSERT INTO tv_pre VALUES (3, :t2, 'replica');
RESET session_replication_role;
SELECT v(:t2, 'pre') - :seen AS replica_write_step;

-- ---- trigger order: nothing may rewrite the row after ours --------------
CREATE FUNCTION retenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.tenant_id := '00000000-0000-0000-0000-00000000000b'; RETURN NEW; END $$;
CREATE TRIGGER zzz_retenant BEFORE INSERT OR UPDATE ON tv_pre FOR EACH ROW EXECUTE FUNCTION retenant();
CREATE TRIGGER aa_retenant BEFORE INSERT ON tv_pre FOR EACH ROW EXECUTE FUNCTION retenant();
ALTER TRIGGER aa_retenant ON tv_pre RENAME TO zzzz_retenant;
DROP TRIGGER aa_retenant ON tv_pre;
-- AFTER triggers and BEFORE DELETE triggers are fine.
CREATE TRIGGER zzz_after AFTER INSERT ON tv_pre FOR EACH ROW EXECUTE FUNCTION retenant();
DROP TRIGGER zzz_after ON tv_pre;
CREATE TABLE tv_ordered (id int, tenant_id uuid);
CREATE TRIGGER zzz_retenant BEFORE INSERT ON tv_ordered FOR EACH ROW EXECUTE FUNCTION retenant();
SELECT fraiseql_cache.setup_table_invalidation('tv_ordered');
CREATE TABLE tv_part_z (id int, tenant_id uuid, name text);
CREATE TRIGGER zzz_retenant BEFORE INSERT ON tv_part_z FOR EACH ROW EXECUTE FUNCTION retenant();
ALTER TABLE tv_part ATTACH PARTITION tv_part_z FOR VALUES IN ('00000000-0000-0000-0000-0000000000ee');

-- ---- scope changes never lower a version --------------------------------
CREATE TABLE tv_scoped (id int, tenant_id uuid);
SELECT fraiseql_cache.setup_table_invalidation('tv_scoped', 'scoped');
INSERT INTO tv_scoped SELECT g, :t1 FROM generate_series(1, 5) g;
UPDATE tv_scoped SET id = id + 1;
UPDATE tv_scoped SET id = id + 1;
INSERT INTO tv_scoped VALUES (100, :t2);
SELECT v(:t1, 'scoped') AS s1, v(:t2, 'scoped') AS s2, v(:t9, 'scoped') AS s9 \gset
CREATE TABLE tv_scoped_global (id int);
SELECT fraiseql_cache.setup_table_invalidation('tv_scoped_global', 'scoped', NULL);
SELECT v(:t1, 'scoped') > :s1 AS t1_up, v(:t2, 'scoped') > :s2 AS t2_up, v(:t9, 'scoped') > :s9 AS t9_up,
       v(:t1, 'scoped') = v(:t2, 'scoped') AS one_version_now;
SELECT v(:t1, 'scoped') AS g \gset
SELECT fraiseql_cache.remove_table_invalidation('tv_scoped_global');
SELECT v(:t1, 'scoped') > :g AS t1_up_again, v(:t2, 'scoped') > :g AS t2_up_again,
       v(:t9, 'scoped') > :g AS t9_up_again;

-- ---- idempotent setup of a global table bumps nothing -------------------
CREATE TABLE tv_settings (id int, value text);
SELECT fraiseql_cache.setup_table_invalidation('tv_settings');
SELECT v(:all, 'settings') AS s \gset
SELECT fraiseql_cache.setup_table_invalidation('tv_settings');
SELECT fraiseql_cache.setup_table_invalidation('tv_settings', NULL, NULL);
SELECT v(:all, 'settings') - :s AS repeated_setup_step;
SELECT count(*) AS all_tenants_row FROM fraiseql_cache.domain_version
 WHERE domain = 'settings' AND tenant_id = :all;

-- ---- bad input -----------------------------------------------------------
SELECT fraiseql_cache.current_versions(:t1, ARRAY[['part', 'pre'], ['a', 'b']]);

DROP TABLE tv_part, tv_part_b, tv_part_z, tv_inh, tv_inh_other, tv_pre,
           tv_ordered, tv_scoped, tv_scoped_global, tv_settings;
DROP FUNCTION retenant();
DROP FUNCTION v(uuid, text);
