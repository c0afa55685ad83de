-- Versions: one bump per (tenant, domain) per committed transaction, the
-- all-tenants pair with every bump, nothing on rollback, shared memory and
-- domain_version in agreement. Every statement runs in its own transaction
-- (psql autocommit); with wait_for_bump = on a version read right after
-- COMMIT already shows the bump; domain_version follows with the worker's
-- transaction, which wait_for_persistence() waits for.
SET search_path = regress, public;
\set t1 '''00000000-0000-0000-0000-000000000001'''
\set t2 '''00000000-0000-0000-0000-000000000002'''
\set t3 '''00000000-0000-0000-0000-000000000003'''
\set all '''00000000-0000-0000-0000-000000000000'''
-- Version deltas of the contract domain since the last snapshot().
CREATE TABLE seen (tenant_id uuid PRIMARY KEY, version bigint);
CREATE FUNCTION snapshot() RETURNS void LANGUAGE sql AS $$
    DELETE FROM seen;
    INSERT INTO seen SELECT t, fraiseql_cache.current_version(t, 'contract')
      FROM unnest(ARRAY['00000000-0000-0000-0000-000000000000',
                        '00000000-0000-0000-0000-000000000001',
                        '00000000-0000-0000-0000-000000000002',
                        '00000000-0000-0000-0000-000000000003']::uuid[]) t;
$$;
CREATE FUNCTION bumps(OUT all_tenants bigint, OUT t1 bigint, OUT t2 bigint, OUT t3 bigint)
LANGUAGE sql AS $$
    SELECT max(d) FILTER (WHERE n = 0), max(d) FILTER (WHERE n = 1),
           max(d) FILTER (WHERE n = 2), max(d) FILTER (WHERE n = 3)
      FROM (SELECT right(tenant_id::text, 1)::int AS n,
                   fraiseql_cache.current_version(tenant_id, 'contract') - version AS d
              FROM seen) s;
$$;

-- A never-bumped pair reads the floor (0 on a fresh install; raised after
-- an unclean stop, or when the extension is created again in a running server).
SELECT fraiseql_cache.current_version(:t1, 'no_such_domain') = floor AS never_bumped_reads_floor
  FROM fraiseql_cache.stats();

SELECT snapshot();
INSERT INTO tv_contract SELECT g, ('00000000-0000-0000-0000-00000000000' || (g % 3 + 1))::uuid, 'c' || g
  FROM generate_series(1, 10000) g;
SELECT * FROM bumps();

-- A 10k-row UPDATE over 3 tenants: one bump per tenant, one for all tenants.
SELECT snapshot();
UPDATE tv_contract SET name = name || '!';
SELECT * FROM bumps();
-- domain_version agrees with shared memory once persisted.
SELECT fraiseql_cache.wait_for_persistence() AS persisted;
SELECT dv.tenant_id, dv.version = fraiseql_cache.current_version(dv.tenant_id, dv.domain) AS agrees
  FROM fraiseql_cache.domain_version dv
 WHERE dv.domain = 'contract' AND dv.tenant_id IN (:t1, :t2, :t3, :all) ORDER BY 1;

-- One row: its tenant only.
SELECT snapshot();
UPDATE tv_contract SET name = 'one' WHERE id = 1;
SELECT * FROM bumps();
-- A DELETE.
SELECT snapshot();
DELETE FROM tv_contract WHERE id = 3;
SELECT * FROM bumps();
-- Moving a row to another tenant bumps both tenants.
SELECT snapshot();
UPDATE tv_contract SET tenant_id = :t3 WHERE id = 1;
SELECT * FROM bumps();
-- Several statements in one transaction: still one bump per pair.
SELECT snapshot();
BEGIN;
UPDATE tv_contract SET name = 'a' WHERE id = 4;
UPDATE tv_contract SET name = 'b' WHERE id = 7;
INSERT INTO tv_contract VALUES (20001, :t2, 'new');
COMMIT;
SELECT * FROM bumps();
-- INSERT ... ON CONFLICT DO UPDATE.
SELECT snapshot();
INSERT INTO tv_contract VALUES (2, :t3, 'upsert') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name;
SELECT * FROM bumps();
-- (MERGE: regress/merge.sql)
-- COPY.
SELECT snapshot();
COPY tv_contract FROM STDIN;
40001	00000000-0000-0000-0000-000000000002	copied
40002	00000000-0000-0000-0000-000000000002	copied
\.
SELECT * FROM bumps();
-- An UPDATE that matches no row bumps nothing.
SELECT snapshot();
UPDATE tv_contract SET name = 'none' WHERE id < 0;
SELECT * FROM bumps();

-- A rolled-back transaction bumps nothing.
SELECT snapshot();
BEGIN;
UPDATE tv_contract SET name = 'rolled back';
ROLLBACK;
-- (a later commit in another domain is published in order after it)
INSERT INTO tb_item VALUES (1, :t1, 1);
SELECT * FROM bumps();

-- A rolled-back savepoint inside a committed transaction may over-invalidate
-- (documented): the pair it touched is bumped with the transaction.
SELECT snapshot();
BEGIN;
UPDATE tv_contract SET name = 's' WHERE id = 4;
SAVEPOINT s;
UPDATE tv_contract SET name = 's' WHERE tenant_id = :t2;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT * FROM bumps();

-- session_replication_role = replica (logical replication apply) still bumps.
SELECT snapshot();
SET session_replication_role = replica;
UPDATE tv_contract SET name = 'replica' WHERE id = 4;
RESET session_replication_role;
SELECT * FROM bumps();

-- fraiseql_cache.enabled = off (superuser only) records nothing.
SELECT snapshot();
SET fraiseql_cache.enabled = off;
UPDATE tv_contract SET name = 'off';
RESET fraiseql_cache.enabled;
SELECT * FROM bumps();

-- A global domain: every tenant reads the domain's one version.
SELECT fraiseql_cache.current_version(:t1, 'settings') AS before_t1 \gset
INSERT INTO settings VALUES ('theme', 'dark');
SELECT fraiseql_cache.current_version(:t1, 'settings') - :before_t1 AS t1_delta,
       fraiseql_cache.current_version(:t2, 'settings') = fraiseql_cache.current_version(:all, 'settings') AS same_for_all;

-- current_versions(): one call for a whole cache key, in the order given.
SELECT fraiseql_cache.current_versions(:t1, ARRAY['contract', 'item', 'no_such_domain'])
     = ARRAY[fraiseql_cache.current_version(:t1, 'contract'),
             fraiseql_cache.current_version(:t1, 'item'),
             fraiseql_cache.current_version(:t1, 'no_such_domain')] AS same_order;
SELECT fraiseql_cache.current_versions(:t1, ARRAY[]::text[]) AS empty;

-- PREPARE TRANSACTION with pending bumps is refused before anything is prepared.
BEGIN;
UPDATE tv_contract SET name = 'prepared' WHERE id = 4;
PREPARE TRANSACTION 'fraiseql_regress';
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'fraiseql_regress';
-- Without tracked writes PREPARE works as usual.
BEGIN;
INSERT INTO seen VALUES ('00000000-0000-0000-0000-0000000000ff', 0);
PREPARE TRANSACTION 'fraiseql_regress_plain';
ROLLBACK PREPARED 'fraiseql_regress_plain';

-- Bad arguments.
SELECT * FROM expect_error('SELECT fraiseql_cache.current_version(NULL, ''contract'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.current_version(''00000000-0000-0000-0000-000000000001'', NULL)');
SELECT * FROM expect_error('SELECT fraiseql_cache.current_version(''00000000-0000-0000-0000-000000000001'', '''')');
SELECT * FROM expect_error('SELECT fraiseql_cache.current_version(''00000000-0000-0000-0000-000000000001'', repeat(''x'', 64))');
SELECT * FROM expect_error('SELECT fraiseql_cache.current_versions(''00000000-0000-0000-0000-000000000001'', NULL)');
SELECT * FROM expect_error('SELECT fraiseql_cache.wait_for_persistence(-1)');
SELECT * FROM expect_error('SELECT fraiseql_cache.wait_for_persistence(NULL)');
SELECT * FROM expect_error('SELECT fraiseql_cache.current_versions(''00000000-0000-0000-0000-000000000001'', ARRAY[''contract'', NULL])');
SELECT * FROM expect_error('SELECT fraiseql_cache.current_version(''not-a-uuid'', ''contract'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.track_row()');

-- The monitoring counters moved.
SELECT serving, rows_seen >= 10000 AS rows_counted, dedup_ratio > 1 AS deduplicated,
       bumps > 0 AS bumped, overflows, wait_timeouts
  FROM fraiseql_cache.stats();
