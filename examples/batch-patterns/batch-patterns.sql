-- Batch write patterns with pg_fraiseql_cache, runnable with psql against the
-- served database (as a superuser for part 4):
--
--   psql -X -v ON_ERROR_STOP=1 -f batch-patterns.sql
--
-- Every part checks what it claims and stops with an error if it does not
-- hold. It creates tv_batch_contract (domain batch_contract) and drops it at
-- the end.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset tuples_only on
\pset format unaligned
SET client_min_messages = warning;

-- Three tenants, and the all-tenants id that is bumped with any of them.
\set ta '''aaaaaaaa-0000-4000-8000-000000000001'''
\set tb '''bbbbbbbb-0000-4000-8000-000000000002'''
\set tc '''cccccccc-0000-4000-8000-000000000003'''
\set td '''dddddddd-0000-4000-8000-000000000004'''
\set tall '''00000000-0000-0000-0000-000000000000'''

DROP TABLE IF EXISTS tv_batch_contract;
DROP PROCEDURE IF EXISTS batch_backfill_region(integer);
CREATE TABLE tv_batch_contract (
    id        bigint PRIMARY KEY,
    tenant_id uuid NOT NULL,
    status    text NOT NULL DEFAULT 'draft',
    amount    numeric NOT NULL DEFAULT 0
);
SELECT fraiseql_cache.setup_table_invalidation('tv_batch_contract') AS setup \gset
\echo :setup

-- check(ok, what): stops the script when a claim does not hold.
CREATE FUNCTION pg_temp.check(ok boolean, what text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'batch-patterns: check failed: %', what;
    END IF;
    RETURN 'ok: ' || what;
END $$;

-- v(tenant): the tenant's version of the domain.
CREATE FUNCTION pg_temp.v(tenant uuid) RETURNS bigint
LANGUAGE sql AS $$ SELECT fraiseql_cache.current_version(tenant, 'batch_contract') $$;

-- 10,000 rows, ids interleaved over tenants a, b and c: one transaction,
-- so one bump per tenant.
INSERT INTO tv_batch_contract (id, tenant_id, amount)
SELECT i, (ARRAY[:ta, :tb, :tc]::uuid[])[1 + i % 3], i
  FROM generate_series(1, 10000) AS i;

------------------------------------------------------------------------------
\echo '1. Bulk UPDATE: 10,000 rows over 3 tenants = 3 bumps (and 1 all-tenants bump).'
------------------------------------------------------------------------------
SELECT pg_temp.v(:ta) AS a0, pg_temp.v(:tb) AS b0, pg_temp.v(:tc) AS c0, pg_temp.v(:tall) AS all0 \gset

UPDATE tv_batch_contract SET amount = amount * 1.1;

-- COMMIT has returned: with fraiseql_cache.wait_for_bump = on (the default)
-- every session already sees the new versions.
SELECT pg_temp.check(pg_temp.v(:ta) = :a0 + 1 AND pg_temp.v(:tb) = :b0 + 1 AND pg_temp.v(:tc) = :c0 + 1,
                     'each tenant bumped exactly once by a 10,000-row UPDATE') AS result;
SELECT pg_temp.check(pg_temp.v(:tall) = :all0 + 1, 'the all-tenants pair bumped once') AS result;

------------------------------------------------------------------------------
\echo '2. COPY: bumps the tenants it wrote, once each, like any other write.'
------------------------------------------------------------------------------
SELECT pg_temp.v(:ta) AS a0, pg_temp.v(:tb) AS b0, pg_temp.v(:tc) AS c0 \gset

COPY tv_batch_contract (id, tenant_id, status, amount) FROM STDIN (FORMAT csv);
20001,aaaaaaaa-0000-4000-8000-000000000001,signed,100
20002,aaaaaaaa-0000-4000-8000-000000000001,signed,200
20003,bbbbbbbb-0000-4000-8000-000000000002,draft,300
20004,bbbbbbbb-0000-4000-8000-000000000002,draft,400
\.

SELECT pg_temp.check(pg_temp.v(:ta) = :a0 + 1 AND pg_temp.v(:tb) = :b0 + 1,
                     'COPY bumped tenants a and b once each') AS result;
SELECT pg_temp.check(pg_temp.v(:tc) = :c0, 'tenant c, not written, kept its version') AS result;

------------------------------------------------------------------------------
\echo '3. Chunked backfill: one transaction per chunk, so each chunk bumps the'
\echo '   tenants it touched once; caches see the backfill progress chunk by chunk.'
------------------------------------------------------------------------------
ALTER TABLE tv_batch_contract ADD COLUMN region text;

-- Keyset chunks of `chunk` rows, committed one by one (a procedure may
-- COMMIT when CALLed outside an explicit transaction block).
CREATE PROCEDURE batch_backfill_region(chunk integer)
LANGUAGE plpgsql AS $$
DECLARE
    last_id bigint := 0;
    upto    bigint;
BEGIN
    LOOP
        SELECT max(id) INTO upto
          FROM (SELECT id FROM tv_batch_contract WHERE id > last_id ORDER BY id LIMIT chunk) s;
        EXIT WHEN upto IS NULL;
        UPDATE tv_batch_contract SET region = 'eu' WHERE id > last_id AND id <= upto;
        last_id := upto;
        COMMIT;
    END LOOP;
END $$;

-- Which chunks hold each tenant's rows: that many bumps are expected.
SELECT count(DISTINCT chunk) FILTER (WHERE tenant_id = :ta) AS a_chunks,
       count(DISTINCT chunk) FILTER (WHERE tenant_id = :tb) AS b_chunks,
       count(DISTINCT chunk) FILTER (WHERE tenant_id = :tc) AS c_chunks
  FROM (SELECT tenant_id, (row_number() OVER (ORDER BY id) - 1) / 2500 AS chunk
          FROM tv_batch_contract) s \gset
SELECT pg_temp.v(:ta) AS a0, pg_temp.v(:tb) AS b0, pg_temp.v(:tc) AS c0 \gset

CALL batch_backfill_region(2500);

SELECT pg_temp.check(pg_temp.v(:ta) = :a0 + :a_chunks AND pg_temp.v(:tb) = :b0 + :b_chunks
                     AND pg_temp.v(:tc) = :c0 + :c_chunks,
                     format('one bump per chunk and tenant (a: %s, b: %s, c: %s chunks)',
                            :a_chunks, :b_chunks, :c_chunks)) AS result;
SELECT pg_temp.check((SELECT count(*) FROM tv_batch_contract WHERE region IS NULL) = 0,
                     'every row backfilled') AS result;

------------------------------------------------------------------------------
\echo '4. Maintenance window: fraiseql_cache.enabled = off records nothing, so the'
\echo '   same transaction ends it with manual bumps. invalidate_domain() bumps'
\echo '   every tenant the domain has versions for; a tenant first written inside'
\echo '   the window has none yet, so bump the tenants written explicitly too.'
------------------------------------------------------------------------------
SELECT pg_temp.v(:ta) AS a0, pg_temp.v(:tb) AS b0, pg_temp.v(:tc) AS c0, pg_temp.v(:td) AS d0,
       pg_temp.v(:tall) AS all0 \gset

BEGIN;
SET LOCAL fraiseql_cache.enabled = off;           -- superuser only
UPDATE tv_batch_contract SET status = 'archived' WHERE amount < 500;
INSERT INTO tv_batch_contract (id, tenant_id, status)
SELECT 30000 + i, :td, 'migrated' FROM generate_series(1, 100) AS i;   -- a new tenant
SET LOCAL fraiseql_cache.enabled = on;
SELECT fraiseql_cache.invalidate_domain('batch_contract');
SELECT fraiseql_cache.invalidate(tenant_id, 'batch_contract')
  FROM (SELECT DISTINCT tenant_id FROM tv_batch_contract WHERE id > 30000) AS written;
COMMIT;

-- The bumps became visible together with the data (same transaction), each
-- pair once.
SELECT pg_temp.check(pg_temp.v(:ta) = :a0 + 1 AND pg_temp.v(:tb) = :b0 + 1 AND pg_temp.v(:tc) = :c0 + 1,
                     'every known tenant bumped once at the end of the window') AS result;
SELECT pg_temp.check(pg_temp.v(:td) > :d0, 'the tenant first written in the window was bumped') AS result;
SELECT pg_temp.check(pg_temp.v(:tall) = :all0 + 1, 'the all-tenants pair bumped once') AS result;

-- Inside the window nothing was recorded: a write with enabled = off and
-- no manual bump leaves every version as it was (this is why the window
-- must end with one).
SELECT pg_temp.v(:ta) AS a0 \gset
BEGIN;
SET LOCAL fraiseql_cache.enabled = off;
UPDATE tv_batch_contract SET amount = amount + 1 WHERE tenant_id = :ta;
COMMIT;
SELECT pg_temp.check(pg_temp.v(:ta) = :a0, 'a write with enabled = off bumps nothing') AS result;
SELECT fraiseql_cache.invalidate(:ta, 'batch_contract');
SELECT pg_temp.check(pg_temp.v(:ta) = :a0 + 1, '... until the manual bump') AS result;

------------------------------------------------------------------------------
SELECT fraiseql_cache.remove_table_invalidation('tv_batch_contract') AS removed \gset
DROP PROCEDURE batch_backfill_region(integer);
DROP TABLE tv_batch_contract;
\echo 'batch-patterns: all checks passed'
