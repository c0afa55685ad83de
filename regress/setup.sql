-- Installing the extension and tracking tables: the schema contract, the
-- defaults, idempotence, and every refusal with its SQLSTATE.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_fraiseql_cache CASCADE;
DROP SCHEMA IF EXISTS regress CASCADE;
DROP SERVER IF EXISTS regress_files CASCADE;
RESET client_min_messages;
CREATE EXTENSION pg_fraiseql_cache;
SELECT extversion FROM pg_extension WHERE extname = 'pg_fraiseql_cache';

-- The worker notices the new extension and starts serving from shared memory.
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN (SELECT serving FROM fraiseql_cache.stats());
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT serving FROM fraiseql_cache.stats();

CREATE SCHEMA regress;
SET search_path = regress, public;
-- Runs a statement that must fail; shows what a user sees of the error.
CREATE FUNCTION expect_error(sql text, OUT state text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    state := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            hint = PG_EXCEPTION_HINT;
END $$;
CREATE TABLE tv_contract (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text);
CREATE TABLE tb_item (id int PRIMARY KEY, tenant_id uuid, contract_id int);
CREATE TABLE settings (key text PRIMARY KEY, value text);
CREATE TABLE "MixedCase" (id int, tenant_id uuid);
CREATE TABLE owned_by (id int, org uuid, tenant_id text);

-- Domain from the table name without tv_ / tb_.
SELECT fraiseql_cache.setup_table_invalidation('tv_contract');
SELECT fraiseql_cache.setup_table_invalidation('regress.tb_item');
-- Idempotent: clients call it at every start (same triggers, nothing recreated).
SELECT oid AS trigger_oid FROM pg_trigger
 WHERE tgrelid = 'tv_contract'::regclass AND tgname = 'zz_fraiseql_cache_row' \gset
SELECT fraiseql_cache.setup_table_invalidation('tv_contract', NULL, 'tenant_id');
SELECT count(*) AS same_trigger FROM pg_trigger WHERE oid = :trigger_oid;
-- Triggers fire ALWAYS (replication apply, session_replication_role = replica).
SELECT tgname, tgenabled, tgtype FROM pg_trigger WHERE tgrelid = 'tv_contract'::regclass ORDER BY tgname;
-- No tenant_id column: the default tenant column makes the domain global.
SELECT fraiseql_cache.setup_table_invalidation('settings');
-- Explicit domain, quoted mixed-case name, another tenant column.
SELECT fraiseql_cache.setup_table_invalidation('"MixedCase"', 'mixed');
SELECT fraiseql_cache.setup_table_invalidation('owned_by', 'owned', 'org');
-- Explicit NULL tenant column: global.
SELECT fraiseql_cache.setup_table_invalidation('owned_by', 'owned', NULL);

SELECT table_schema, table_name, domain, tenant_column
  FROM fraiseql_cache.tracked_tables ORDER BY table_name;
-- Each domain is registered at once, with a row for the all-tenants id.
SELECT tenant_id, domain FROM fraiseql_cache.domain_version
 WHERE tenant_id = '00000000-0000-0000-0000-000000000000'
   AND domain IN (SELECT domain FROM fraiseql_cache.tracked_tables) ORDER BY domain;

-- Refusals: clear error, SQLSTATE, hint, and nothing changed.
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''no_such_table'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(NULL)');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation('''')');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''x; DROP TABLE y'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''owned_by'', ''owned'', ''tenant_id'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''owned_by'', ''owned'', ''no_column'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''tv_contract'', '''')');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''tv_contract'', repeat(''d'', 64))');
CREATE VIEW v_contract AS SELECT * FROM tv_contract;
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''v_contract'')');
CREATE EXTENSION IF NOT EXISTS file_fdw;
CREATE SERVER regress_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE remote_rows (id int, tenant_id uuid) SERVER regress_files
    OPTIONS (filename '/dev/null', format 'csv');
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''remote_rows'')');
CREATE TEMP TABLE scratch (tenant_id uuid);
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''scratch'')');
CREATE TABLE parted (id int, tenant_id uuid) PARTITION BY LIST (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''parted_1'')');
SELECT count(*) AS tracked FROM fraiseql_cache.tracked_tables;

-- Removal drops the triggers and the registration.
SELECT fraiseql_cache.remove_table_invalidation('"MixedCase"');
SELECT fraiseql_cache.remove_table_invalidation('"MixedCase"');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = '"MixedCase"'::regclass;
SELECT count(*) AS tracked FROM fraiseql_cache.tracked_tables;
