\pset footer off
\echo
\echo '== 1. Install the extension (postgresql.conf: shared_preload_libraries = pg_fraiseql_cache;'
\echo '   every database where it is created is served)'
CREATE EXTENSION pg_fraiseql_cache;
DO $$ BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN (SELECT serving FROM fraiseql_cache.stats());
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT worker_pid IS NOT NULL AS worker_running, serving FROM fraiseql_cache.stats();

\echo
\echo '== 2. Track two tables: domains "contract" and "item" (tv_ prefix dropped)'
CREATE TABLE tv_contract (id int PRIMARY KEY, tenant_id uuid NOT NULL, title text, amount int);
CREATE TABLE tv_item (id int PRIMARY KEY, tenant_id uuid NOT NULL, contract_id int, sku text);
SELECT fraiseql_cache.setup_table_invalidation('tv_contract');
SELECT fraiseql_cache.setup_table_invalidation('tv_item');

\set acme '''00000000-0000-0000-0000-00000000000a'''
\set globex '''00000000-0000-0000-0000-00000000000b'''
\set initech '''00000000-0000-0000-0000-00000000000c'''
INSERT INTO tv_contract
SELECT g, (ARRAY[:acme, :globex, :initech]::uuid[])[g % 3 + 1], 'contract ' || g, g
  FROM generate_series(1, 10000) g;

\echo
\echo '== 3. A cache client reads versions BEFORE reading data, and tags its entry with them'
SELECT fraiseql_cache.current_versions(:acme, ARRAY['contract', 'item']) AS acme_versions;

\echo
\echo '== 4. One UPDATE of 10,000 rows over 3 tenants = one bump per tenant (plus all-tenants)'
CREATE TEMP TABLE before AS SELECT tenant_id, version FROM fraiseql_cache.domain_version WHERE domain = 'contract';
UPDATE tv_contract SET amount = amount + 1;
SELECT dv.tenant_id, b.version AS before, dv.version AS after, dv.version - b.version AS bumps,
       fraiseql_cache.current_version(dv.tenant_id, 'contract') AS current_version
  FROM fraiseql_cache.domain_version dv JOIN before b USING (tenant_id)
 WHERE dv.domain = 'contract' ORDER BY 1;

\echo
\echo '== 5. Cascades: a contract change also invalidates that tenant''s items'
INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type)
VALUES ('contract', 'item', 'invalidate')
ON CONFLICT (source_domain, target_domain) DO UPDATE SET rule_type = EXCLUDED.rule_type;
SELECT fraiseql_cache.current_version(:acme, 'item') AS acme_item_before \gset
UPDATE tv_contract SET title = 'renamed' WHERE id = 3;   -- an acme contract
SELECT :acme_item_before AS acme_item_before,
       fraiseql_cache.current_version(:acme, 'item') AS acme_item_after,
       fraiseql_cache.current_version(:globex, 'item') AS globex_item_untouched;

\echo
\echo '== 6. Every application node LISTENs: the worker announces each new version'
LISTEN cache_invalidation;
UPDATE tv_contract SET title = 'again' WHERE id = 4;    -- a globex contract
SELECT pg_sleep(0.2) AS "(notifications arrive below)";
UNLISTEN cache_invalidation;

\echo
\echo '== 7. A rolled-back transaction bumps nothing'
SELECT fraiseql_cache.current_version(:initech, 'contract') AS initech_before \gset
BEGIN;
UPDATE tv_contract SET amount = 0 WHERE tenant_id = :initech;
ROLLBACK;
SELECT :initech_before AS initech_before, fraiseql_cache.current_version(:initech, 'contract') AS initech_after;

\echo
\echo '== 8. Manual bumps, applied at commit: one tenant, or a whole domain'
SELECT fraiseql_cache.invalidate(:acme, 'contract');
SELECT fraiseql_cache.invalidate_domain('item');

\echo
\echo '== 9. Monitoring'
\echo '-- tracked tables and their triggers'
SELECT table_name, domain, tenant_column, trigger_enabled FROM fraiseql_cache.v_invalidation_status ORDER BY 1;
\echo '-- live versions (shared memory)'
SELECT tenant_id, domain, version FROM fraiseql_cache.v_domain_versions ORDER BY domain, tenant_id;
\echo '-- the most recent bumps, newest first'
SELECT to_char(invalidated_at, 'HH24:MI:SS.MS') AS at, tenant_id, domain, version, source, transactions
  FROM fraiseql_cache.v_recent_invalidations LIMIT 10;
\echo '-- counters'
\x on
SELECT * FROM fraiseql_cache.stats();
\x off
\echo
\echo '== 10. A second database, served at once, with no restart: its own worker and versions'
CREATE DATABASE demo_second;
\c demo_second
CREATE EXTENSION pg_fraiseql_cache;
CREATE TABLE tv_note (id int PRIMARY KEY, tenant_id uuid NOT NULL, body text);
SELECT fraiseql_cache.setup_table_invalidation('tv_note');
INSERT INTO tv_note VALUES (1, '00000000-0000-0000-0000-00000000000a', 'hello');
SELECT fraiseql_cache.current_version('00000000-0000-0000-0000-00000000000a', 'note') AS note_version;
\echo '-- the workers: one per served database'
SELECT backend_type, datname FROM pg_stat_activity
 WHERE backend_type LIKE 'fraiseql_cache%' ORDER BY backend_type, datname;
\c demo
\echo
\echo 'Demo complete.'
