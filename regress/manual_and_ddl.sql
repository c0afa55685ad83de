-- Manual bumps, TRUNCATE, cascades, DDL on tracked tables, monitoring views.
SET search_path = regress, public;
\set t1 '''00000000-0000-0000-0000-000000000001'''
\set t2 '''00000000-0000-0000-0000-000000000002'''
\set t3 '''00000000-0000-0000-0000-000000000003'''
\set all '''00000000-0000-0000-0000-000000000000'''
CREATE FUNCTION v(tenant uuid, domain text) RETURNS bigint
LANGUAGE sql AS $$ SELECT fraiseql_cache.current_version(tenant, domain) $$;

-- invalidate(): applied at commit, nothing on rollback.
SELECT v(:t1, 'contract') AS c1, v(:t2, 'contract') AS c2, v(:all, 'contract') AS call \gset
SELECT fraiseql_cache.invalidate(:t1, 'contract');
SELECT v(:t1, 'contract') - :c1 AS t1, v(:t2, 'contract') - :c2 AS t2, v(:all, 'contract') - :call AS all_tenants;
SELECT v(:t1, 'contract') AS c1 \gset
BEGIN;
SELECT fraiseql_cache.invalidate(:t1, 'contract');
ROLLBACK;
SELECT v(:t1, 'contract') - :c1 AS after_rollback;
-- Any domain name can be bumped by hand, tracked or not.
SELECT v(:t1, 'reports') AS r1 \gset
SELECT fraiseql_cache.invalidate(:t1, 'reports');
SELECT v(:t1, 'reports') - :r1 AS untracked_domain;

-- invalidate_domain(): every known tenant and the all-tenants pair.
SELECT v(:t1, 'contract') AS c1, v(:t2, 'contract') AS c2, v(:t3, 'contract') AS c3, v(:all, 'contract') AS call \gset
SELECT fraiseql_cache.invalidate_domain('contract');
SELECT v(:t1, 'contract') - :c1 AS t1, v(:t2, 'contract') - :c2 AS t2, v(:t3, 'contract') - :c3 AS t3,
       v(:all, 'contract') - :call AS all_tenants;

-- TRUNCATE of a tracked table: every known tenant of its domain, once.
SELECT v(:t1, 'contract') AS c1, v(:t2, 'contract') AS c2, v(:t3, 'contract') AS c3, v(:all, 'contract') AS call \gset
TRUNCATE tv_contract;
SELECT v(:t1, 'contract') - :c1 AS t1, v(:t2, 'contract') - :c2 AS t2, v(:t3, 'contract') - :c3 AS t3,
       v(:all, 'contract') - :call AS all_tenants;

-- Cascades: contract -> item -> price (transitive), price -> contract (a
-- cycle, terminates), contract -> audit (notify only: announced, not bumped).
INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type) VALUES
    ('contract', 'item', 'invalidate'), ('item', 'price', 'invalidate'),
    ('price', 'contract', 'invalidate'), ('contract', 'audit', 'notify')
ON CONFLICT (source_domain, target_domain) DO UPDATE SET rule_type = EXCLUDED.rule_type;
SELECT v(:t1, 'contract') AS c, v(:t1, 'item') AS i, v(:t1, 'price') AS p, v(:t1, 'audit') AS a,
       v(:t2, 'item') AS i2 \gset
INSERT INTO tv_contract VALUES (1, :t1, 'cascading');
SELECT v(:t1, 'contract') - :c AS contract, v(:t1, 'item') - :i AS item, v(:t1, 'price') - :p AS price,
       v(:t1, 'audit') - :a AS audit_notify_only, v(:t2, 'item') - :i2 AS other_tenant;
-- The six bumps of that commit, as v_recent_invalidations shows them (newest first).
SELECT tenant_id, domain, source, transactions
  FROM (SELECT * FROM fraiseql_cache.v_recent_invalidations LIMIT 6) r
 ORDER BY domain, tenant_id;
-- A rule change applies to transactions committing after it.
DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = 'contract';
SELECT v(:t1, 'item') AS i \gset
UPDATE tv_contract SET name = 'no cascade' WHERE id = 1;
SELECT v(:t1, 'item') - :i AS item_after_rule_removed;
DELETE FROM fraiseql_cache.cascade_rules;

-- The monitoring views.
SELECT tenant_id, domain, version = v(tenant_id, domain) AS live
  FROM fraiseql_cache.v_domain_versions
 WHERE domain = 'contract' AND tenant_id IN (:t1, :t2, :t3, :all) ORDER BY tenant_id;
SELECT fraiseql_cache.wait_for_persistence() AS persisted;
SELECT count(*) = (SELECT count(*) FROM fraiseql_cache.domain_version) AS all_pairs_listed
  FROM fraiseql_cache.v_domain_versions;
SELECT table_schema, table_name, domain, tenant_column, table_exists, trigger_enabled
  FROM fraiseql_cache.v_invalidation_status ORDER BY table_name;
SELECT count(*) > 0 AS has_manual FROM fraiseql_cache.v_recent_invalidations WHERE source LIKE '%manual%';
SELECT count(*) > 0 AS has_truncate FROM fraiseql_cache.v_recent_invalidations WHERE source LIKE '%truncate%';

-- ALTER TABLE of a tracked table bumps its domain; a rename keeps tracking.
SELECT v(:t1, 'item') AS i, v(:all, 'item') AS ia \gset
ALTER TABLE tb_item ADD COLUMN note text;
SELECT v(:t1, 'item') - :i AS t1_item, v(:all, 'item') - :ia AS all_item;
ALTER TABLE tb_item RENAME TO tb_item_renamed;
SELECT table_name, domain FROM fraiseql_cache.tracked_tables WHERE domain = 'item';
SELECT v(:t2, 'item') AS i2 \gset
INSERT INTO tb_item_renamed VALUES (7, :t2, 1);
SELECT v(:t2, 'item') - :i2 AS still_tracked;
-- DROP TABLE removes the registration.
DROP TABLE tb_item_renamed;
SELECT count(*) AS item_tables FROM fraiseql_cache.tracked_tables WHERE domain = 'item';

-- Bad arguments.
SELECT * FROM expect_error('SELECT fraiseql_cache.invalidate(NULL, ''contract'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.invalidate(''00000000-0000-0000-0000-000000000001'', NULL)');
SELECT * FROM expect_error('SELECT fraiseql_cache.invalidate_domain('''')');
SELECT * FROM expect_error('SELECT fraiseql_cache.invalidate_domain(repeat(''x'', 64))');
SELECT * FROM expect_error($$INSERT INTO fraiseql_cache.cascade_rules VALUES ('a', 'b', 'explode')$$);
SELECT * FROM expect_error($$INSERT INTO fraiseql_cache.cascade_rules VALUES ('a', 'a')$$);
SELECT * FROM expect_error($$INSERT INTO fraiseql_cache.cascade_rules VALUES ('', 'b')$$);
INSERT INTO fraiseql_cache.cascade_rules VALUES ('a', 'b');
SELECT * FROM expect_error($$UPDATE fraiseql_cache.cascade_rules SET rule_type = 'x'$$);
SELECT * FROM expect_error($$UPDATE fraiseql_cache.cascade_rules SET target_domain = 'a'$$);
SELECT source_domain, target_domain, rule_type FROM fraiseql_cache.cascade_rules;
DELETE FROM fraiseql_cache.cascade_rules;
