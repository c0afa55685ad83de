-- Who may do what: a table owner tracks its own tables (and only those);
-- reading versions needs USAGE on the schema; manual bumps and rule changes
-- are granted explicitly; fraiseql_cache.enabled is for superusers.
SET search_path = regress, public;
SET client_min_messages = warning;
DROP TABLE IF EXISTS owned_by_app, owned_by_other;
DROP OWNED BY fraiseql_app;
DROP OWNED BY fraiseql_other;
DROP ROLE IF EXISTS fraiseql_app;
DROP ROLE IF EXISTS fraiseql_other;
RESET client_min_messages;
CREATE ROLE fraiseql_app;
CREATE ROLE fraiseql_other;
GRANT USAGE, CREATE ON SCHEMA regress TO fraiseql_app, fraiseql_other;
GRANT USAGE ON SCHEMA fraiseql_cache TO fraiseql_app, fraiseql_other;

SET ROLE fraiseql_other;
CREATE TABLE owned_by_other (id int, tenant_id uuid);
RESET ROLE;

SET ROLE fraiseql_app;
CREATE TABLE owned_by_app (id int, tenant_id uuid);
-- Its own table: allowed (without any privilege on fraiseql_cache's tables).
SELECT fraiseql_cache.setup_table_invalidation('owned_by_app');
-- Someone else's table: refused, and nothing is registered.
SELECT * FROM expect_error('SELECT fraiseql_cache.setup_table_invalidation(''owned_by_other'')');
SELECT * FROM expect_error('SELECT fraiseql_cache.remove_table_invalidation(''tv_contract'')');
-- Reading versions needs only USAGE on the schema.
SELECT fraiseql_cache.current_version('00000000-0000-0000-0000-000000000001', 'owned_by_app') >= 0 AS can_read;
-- Writes to its tracked table bump as usual.
SELECT fraiseql_cache.current_version('00000000-0000-0000-0000-000000000001', 'owned_by_app') AS before \gset
INSERT INTO owned_by_app VALUES (1, '00000000-0000-0000-0000-000000000001');
SELECT fraiseql_cache.current_version('00000000-0000-0000-0000-000000000001', 'owned_by_app') - :before AS bumped;
-- Not granted: manual bumps, rules, versions table writes, the enabled switch.
SELECT * FROM expect_error('SELECT fraiseql_cache.invalidate_domain(''contract'')');
SELECT * FROM expect_error($$INSERT INTO fraiseql_cache.cascade_rules VALUES ('a', 'b')$$);
SELECT * FROM expect_error($$UPDATE fraiseql_cache.domain_version SET version = 0$$);
SELECT * FROM expect_error('SET fraiseql_cache.enabled = off');
RESET ROLE;
SELECT count(*) AS registered_for_other FROM fraiseql_cache.tracked_tables WHERE table_name = 'owned_by_other';

-- The GRANTs the README documents for an application that manages its rules.
GRANT EXECUTE ON FUNCTION fraiseql_cache.invalidate(uuid, text), fraiseql_cache.invalidate_domain(text) TO fraiseql_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON fraiseql_cache.cascade_rules TO fraiseql_app;
GRANT SELECT ON fraiseql_cache.domain_version TO fraiseql_app;
SET ROLE fraiseql_app;
SELECT fraiseql_cache.invalidate_domain('owned_by_app');
INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type)
VALUES ('owned_by_app', 'reports', 'invalidate')
ON CONFLICT (source_domain, target_domain) DO UPDATE SET rule_type = EXCLUDED.rule_type;
SELECT count(*) AS readable FROM fraiseql_cache.domain_version WHERE domain = 'owned_by_app';
DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = 'owned_by_app';
-- Its own table: remove works too.
SELECT fraiseql_cache.remove_table_invalidation('owned_by_app');
RESET ROLE;

-- Every function of the extension has a fixed search_path, except the two
-- entry points and their helper that resolve a table name the way the
-- caller would (every reference in them is schema-qualified).
SELECT p.proname
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_fraiseql_cache'
 WHERE p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY 1;
-- SECURITY DEFINER functions (each argued in a comment in the script).
SELECT p.proname
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_fraiseql_cache'
 WHERE p.prosecdef ORDER BY 1;

DROP TABLE owned_by_app, owned_by_other;
REVOKE ALL ON fraiseql_cache.cascade_rules, fraiseql_cache.domain_version FROM fraiseql_app;
REVOKE ALL ON FUNCTION fraiseql_cache.invalidate(uuid, text), fraiseql_cache.invalidate_domain(text) FROM fraiseql_app;
REVOKE ALL ON SCHEMA regress, fraiseql_cache FROM fraiseql_app, fraiseql_other;
DROP ROLE fraiseql_app;
DROP ROLE fraiseql_other;
