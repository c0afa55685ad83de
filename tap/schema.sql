-- The SQL surface clients depend on (DESIGN.md section 5), checked with pgTAP.
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache;
RESET client_min_messages;
SELECT plan(50);

SELECT has_extension('pg_fraiseql_cache');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_fraiseql_cache'), '1.0',
          'extension version 1.0 (clients detect it through pg_extension)');
SELECT has_schema('fraiseql_cache');

-- domain_version
SELECT has_table('fraiseql_cache', 'domain_version', 'domain_version exists');
SELECT columns_are('fraiseql_cache', 'domain_version',
                   ARRAY['tenant_id', 'domain', 'version', 'last_modified']);
SELECT col_type_is('fraiseql_cache', 'domain_version', 'tenant_id', 'uuid', 'tenant_id is uuid');
SELECT col_type_is('fraiseql_cache', 'domain_version', 'domain', 'text', 'domain is text');
SELECT col_type_is('fraiseql_cache', 'domain_version', 'version', 'bigint', 'version is bigint');
SELECT col_type_is('fraiseql_cache', 'domain_version', 'last_modified', 'timestamp with time zone',
                   'last_modified is timestamptz');
SELECT col_is_pk('fraiseql_cache', 'domain_version', ARRAY['tenant_id', 'domain'],
                 'domain_version keyed by (tenant_id, domain)');

-- cascade_rules
SELECT has_table('fraiseql_cache', 'cascade_rules', 'cascade_rules exists');
SELECT has_column('fraiseql_cache', 'cascade_rules', 'source_domain', 'has source_domain');
SELECT has_column('fraiseql_cache', 'cascade_rules', 'target_domain', 'has target_domain');
SELECT has_column('fraiseql_cache', 'cascade_rules', 'rule_type', 'has rule_type');
SELECT col_default_is('fraiseql_cache', 'cascade_rules', 'rule_type', 'invalidate',
                      'rule_type defaults to invalidate');
SELECT col_is_pk('fraiseql_cache', 'cascade_rules', ARRAY['source_domain', 'target_domain'],
                 'cascade_rules keyed by (source_domain, target_domain): the clients'' ON CONFLICT target');
SELECT throws_ok($$INSERT INTO fraiseql_cache.cascade_rules VALUES ('a', 'b', 'explode')$$,
                 '23514', NULL, 'an unknown rule_type is refused');

-- Client SQL, verbatim shapes.
SELECT lives_ok($$INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type)
                  VALUES ('tap_src', 'tap_dst', 'invalidate')
                  ON CONFLICT (source_domain, target_domain) DO UPDATE SET rule_type = EXCLUDED.rule_type$$,
                'the clients'' cascade upsert works');
SELECT lives_ok($$INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type)
                  VALUES ('tap_src', 'tap_dst', 'notify')
                  ON CONFLICT (source_domain, target_domain) DO UPDATE SET rule_type = EXCLUDED.rule_type$$,
                'the upsert updates an existing rule');
SELECT is((SELECT rule_type FROM fraiseql_cache.cascade_rules WHERE source_domain = 'tap_src'), 'notify',
          'rule_type was updated');
SELECT lives_ok($$DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = 'tap_src'$$,
                'the clients'' rule delete works');
SELECT lives_ok($$SELECT domain, version FROM fraiseql_cache.domain_version
                  WHERE tenant_id = '00000000-0000-0000-0000-000000000001' AND domain = ANY(ARRAY['contract'])$$,
                'the clients'' version read works');

-- Functions: exactly one signature each (clients pass untyped NULLs).
SELECT has_function('fraiseql_cache', 'setup_table_invalidation', ARRAY['text', 'text', 'text']);
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'fraiseql_cache' AND p.proname = 'setup_table_invalidation'), 1,
          'setup_table_invalidation has exactly one signature');
SELECT function_returns('fraiseql_cache', 'setup_table_invalidation', ARRAY['text', 'text', 'text'], 'text');
SELECT has_function('fraiseql_cache', 'remove_table_invalidation', ARRAY['text']);
SELECT has_function('fraiseql_cache', 'current_version', ARRAY['uuid', 'text']);
SELECT function_returns('fraiseql_cache', 'current_version', ARRAY['uuid', 'text'], 'bigint');
SELECT has_function('fraiseql_cache', 'current_versions', ARRAY['uuid', 'text[]']);
SELECT function_returns('fraiseql_cache', 'current_versions', ARRAY['uuid', 'text[]'], 'bigint[]');
SELECT has_function('fraiseql_cache', 'stats', ARRAY[]::text[]);
SELECT has_table('fraiseql_cache', 'domains', 'domains (owners) exists');
SELECT col_type_is('fraiseql_cache', 'domains', 'owner', 'regrole', 'a domain''s owner is a role');
SELECT has_table('fraiseql_cache', 'domain_floor', 'domain_floor exists');
SELECT ok((SELECT bool_and(c.reloptions @> ARRAY['vacuum_truncate=off'])
             FROM pg_catalog.pg_class c
            WHERE c.oid IN ('fraiseql_cache.domain_version'::regclass,
                            'fraiseql_cache.domain_floor'::regclass,
                            'fraiseql_cache.worker_state'::regclass)),
          'the worker''s tables are never truncated by vacuum');
SELECT has_function('fraiseql_cache', 'set_domain_owner', ARRAY['text', 'regrole']);
SELECT has_function('fraiseql_cache', 'drop_domain', ARRAY['text']);
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'fraiseql_cache' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
             AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
          0, 'every PL/pgSQL function runs with a fixed search_path');
SELECT volatility_is('fraiseql_cache', 'current_version', ARRAY['uuid', 'text'], 'volatile',
                     'current_version is volatile: it changes within a statement');

-- pg_dump keeps rules, registrations and versions.
SELECT set_eq($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS cfg(reloid)
                 JOIN pg_class c ON c.oid = cfg.reloid WHERE e.extname = 'pg_fraiseql_cache'$$,
              ARRAY['domain_version', 'cascade_rules', 'tracked_tables', 'worker_state',
                    'domains', 'domain_floor'],
              'configuration tables are dumped with their contents');

-- Parameters exist with sane defaults.
SELECT is(current_setting('fraiseql_cache.notify_channel'), 'cache_invalidation', 'notify_channel default');
SELECT is(current_setting('fraiseql_cache.wait_for_bump'), 'on', 'wait_for_bump defaults to on');
SELECT is(current_setting('fraiseql_cache.enabled'), 'on', 'enabled defaults to on');
SELECT is(current_setting('fraiseql_cache.notify_format'), 'object', 'notify_format defaults to object');
SELECT ok(current_setting('fraiseql_cache.ring_size')::int > 0, 'ring_size is set');
SELECT ok(current_setting('fraiseql_cache.max_entries')::int > 0, 'max_entries is set');
SELECT throws_ok($$SET fraiseql_cache.wait_for_bump = 'maybe'$$, '22023', NULL,
                 'a bad wait_for_bump is refused');
SELECT throws_ok($$SET fraiseql_cache.wait_timeout_ms = -1$$, '22023', NULL,
                 'a negative wait_timeout_ms is refused');

-- Triggers of a tracked table.
CREATE TABLE tap_tracked (id int PRIMARY KEY, tenant_id uuid);
SELECT lives_ok($$SELECT fraiseql_cache.setup_table_invalidation('tap_tracked')$$, 'setup works');
SELECT is((SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
            WHERE tgrelid = 'tap_tracked'::regclass),
          'zz_fraiseql_cache_row:A,zz_fraiseql_cache_truncate:A',
          'row and TRUNCATE triggers, ENABLE ALWAYS');

SELECT * FROM finish();
ROLLBACK;
