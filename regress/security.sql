-- Attacks by ordinary roles, each refused with a clear error and leaving
-- nothing changed:
--   1. objects planted on a superuser's search_path (operators, functions,
--      types, pg_temp) do not run when the superuser calls the extension;
--   2. a table owner cannot reach another owner's domain (attach, turn
--      global, bump by hand, a trigger created by hand, TRUNCATE, DROP,
--      calling the bookkeeping helpers directly, taking the domain over);
--   3. one role cannot fill the shared domain dictionary for others;
--   4. every read path works for a role with only the documented grants.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS sec_a, sec_b, sec_c, attacker CASCADE;
DROP ROLE IF EXISTS sec_app_a;
DROP ROLE IF EXISTS sec_app_b;
DROP ROLE IF EXISTS sec_app_c;
DROP ROLE IF EXISTS sec_attacker;
DROP ROLE IF EXISTS sec_reader;
RESET client_min_messages;
CREATE ROLE sec_app_a;
CREATE ROLE sec_app_b;
CREATE ROLE sec_app_c;
CREATE ROLE sec_attacker;
CREATE ROLE sec_reader;
GRANT USAGE ON SCHEMA fraiseql_cache TO sec_app_a, sec_app_b, sec_app_c, sec_attacker, sec_reader;
GRANT SELECT ON fraiseql_cache.domain_version TO sec_reader;
GRANT EXECUTE ON FUNCTION fraiseql_cache.invalidate(uuid, text),
                          fraiseql_cache.invalidate_domain(text) TO sec_app_a, sec_app_b;
CREATE SCHEMA sec_a AUTHORIZATION sec_app_a;
CREATE SCHEMA sec_b AUTHORIZATION sec_app_b;
CREATE SCHEMA sec_c AUTHORIZATION sec_app_c;
CREATE SCHEMA attacker AUTHORIZATION sec_attacker;
\set ta '''00000000-0000-0000-0000-0000000000a1'''
\set all '''00000000-0000-0000-0000-000000000000'''

-- ---- 1. search_path hijacking ------------------------------------------------
SET ROLE sec_attacker;
CREATE FUNCTION attacker.escalate(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    ALTER ROLE sec_attacker SUPERUSER;  -- succeeds only when a superuser runs it
    RETURN $1 OPERATOR(pg_catalog.=) $2;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR attacker.= (LEFTARG = text, RIGHTARG = text, FUNCTION = attacker.escalate);
CREATE OPERATOR attacker.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = attacker.escalate);
CREATE FUNCTION attacker.escalate1(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN ALTER ROLE sec_attacker SUPERUSER; EXCEPTION WHEN insufficient_privilege THEN NULL; END;
    RETURN $1;
END $$;
CREATE FUNCTION attacker.to_regclass(text) RETURNS regclass LANGUAGE sql AS
    $$ SELECT attacker.escalate1($1)::regclass $$;
CREATE FUNCTION attacker.octet_length(text) RETURNS int LANGUAGE sql AS
    $$ SELECT length(attacker.escalate1($1)) $$;
CREATE FUNCTION attacker.regexp_replace(text, text, text) RETURNS text LANGUAGE sql AS
    $$ SELECT attacker.escalate1($1) $$;
CREATE FUNCTION attacker.format(text, regclass, text, text) RETURNS text LANGUAGE sql AS
    $$ SELECT attacker.escalate1($1) $$;
CREATE FUNCTION attacker.coalesce(bigint, bigint) RETURNS bigint LANGUAGE sql AS
    $$ SELECT length(attacker.escalate1('x'))::bigint $$;
CREATE TYPE attacker.uuid AS (x int);
CREATE TABLE attacker.tv_bait (id int, tenant_id uuid);
RESET ROLE;
-- The superuser works with the attacker's schema ahead of pg_catalog.
CREATE TABLE public.tv_sec_victim (id int, tenant_id uuid, name text);
SET search_path = attacker, pg_catalog, public;
SELECT fraiseql_cache.setup_table_invalidation('tv_sec_victim');
SELECT fraiseql_cache.setup_table_invalidation('tv_sec_victim', 'sec_victim', 'tenant_id');
INSERT INTO tv_sec_victim VALUES (1, :ta, 'x');
SELECT fraiseql_cache.current_version(:ta, 'sec_victim') > 0 AS reads;
SELECT fraiseql_cache.current_versions(:ta, ARRAY['sec_victim']) IS NOT NULL AS reads_many;
SELECT fraiseql_cache.invalidate(:ta, 'sec_victim');
SELECT fraiseql_cache.invalidate_domain('sec_victim');
SELECT count(*) > 0 AS stats FROM fraiseql_cache.stats();
SELECT count(*) > 0 AS views FROM fraiseql_cache.v_domain_versions;
SELECT count(*) >= 0 AS views FROM fraiseql_cache.v_recent_invalidations;
SELECT count(*) > 0 AS views FROM fraiseql_cache.v_invalidation_status;
SELECT version >= 0 AS table_read FROM fraiseql_cache._table_version(:ta, 'sec_victim');
ALTER TABLE tv_sec_victim ADD COLUMN extra int;
TRUNCATE tv_sec_victim;
SELECT fraiseql_cache.remove_table_invalidation('tv_sec_victim');
SELECT fraiseql_cache.setup_table_invalidation('public.tv_sec_victim', 'sec_victim');
DROP TABLE tv_sec_victim;
-- pg_temp: functions there are never found unless named, tables are.
CREATE FUNCTION pg_temp.to_regclass(text) RETURNS regclass LANGUAGE sql AS
    $$ SELECT attacker.escalate1($1)::regclass $$;
SELECT fraiseql_cache.setup_table_invalidation('attacker.tv_bait', 'sec_bait');
SELECT fraiseql_cache.remove_table_invalidation('attacker.tv_bait');
RESET search_path;
SELECT rolsuper AS attacker_became_superuser FROM pg_roles WHERE rolname = 'sec_attacker';

-- ---- 2. another owner's domain ---------------------------------------------------
SET ROLE sec_app_a;
CREATE TABLE sec_a.tv_orders (id int, tenant_id uuid);
SELECT fraiseql_cache.setup_table_invalidation('sec_a.tv_orders', 'sec_orders');
INSERT INTO sec_a.tv_orders VALUES (1, :ta);
RESET ROLE;
SELECT domain, owner FROM fraiseql_cache.domains WHERE domain = 'sec_orders';
SELECT fraiseql_cache.current_version(:ta, 'sec_orders') AS before_ta,
       fraiseql_cache.current_version(:all, 'sec_orders') AS before_all \gset
SET ROLE sec_app_b;
CREATE TABLE sec_b.tv_mine (id int, tenant_id uuid);
-- attach a table of one's own to the domain, or turn it global
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_mine', 'sec_orders');
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_mine', 'sec_orders', NULL);
-- bump it by hand (EXECUTE is granted, the domain is not)
SELECT fraiseql_cache.invalidate(:ta, 'sec_orders');
SELECT fraiseql_cache.invalidate_domain('sec_orders');
-- take it over or retire it
SELECT fraiseql_cache.set_domain_owner('sec_orders', 'sec_app_b');
SELECT fraiseql_cache.drop_domain('sec_orders');
-- a trigger created by hand on one's own table: refused at once
CREATE TRIGGER zz_fraiseql_cache_row BEFORE INSERT OR UPDATE OR DELETE ON sec_b.tv_mine
    FOR EACH ROW EXECUTE FUNCTION fraiseql_cache.track_row('sec_orders', 'tenant_id');
-- (also with session_replication_role = replica: the event triggers are ALWAYS)
RESET ROLE;
SET session_replication_role = replica;
CREATE TRIGGER zz_fraiseql_cache_row BEFORE INSERT OR UPDATE OR DELETE ON sec_b.tv_mine
    FOR EACH ROW EXECUTE FUNCTION fraiseql_cache.track_row('sec_orders', 'tenant_id');
RESET session_replication_role;
-- and one that got there while event triggers were off (a superuser's
-- restore in single-user mode, say) bumps nothing: not a write, a TRUNCATE or a DROP
ALTER EVENT TRIGGER fraiseql_cache_ddl_command_end DISABLE;
CREATE TRIGGER zz_fraiseql_cache_row BEFORE INSERT OR UPDATE OR DELETE ON sec_b.tv_mine
    FOR EACH ROW EXECUTE FUNCTION fraiseql_cache.track_row('sec_orders', 'tenant_id');
ALTER TABLE sec_b.tv_mine ENABLE ALWAYS TRIGGER zz_fraiseql_cache_row;
ALTER EVENT TRIGGER fraiseql_cache_ddl_command_end ENABLE ALWAYS;
SET ROLE sec_app_b;
INSERT INTO sec_b.tv_mine VALUES (1, :ta);
-- the bookkeeping helpers called directly
SELECT fraiseql_cache._register_table('sec_b.tv_mine');
SELECT fraiseql_cache._note_registration('sec_orders');
SELECT fraiseql_cache._check_domain_access('sec_orders', 'bump');
SELECT fraiseql_cache._setup_ddl(true);
SELECT fraiseql_cache._install_triggers('sec_a.tv_orders', 'sec_orders', 'tenant_id');
-- a domain nobody owns (a rule target, say) is dropped by superusers only
SELECT fraiseql_cache.drop_domain('sec_nobody_owns');
-- TRUNCATE and DROP of the table carrying that trigger
TRUNCATE sec_b.tv_mine;
DROP TRIGGER zz_fraiseql_cache_row ON sec_b.tv_mine;
-- another owner's table
SELECT fraiseql_cache.setup_table_invalidation('sec_a.tv_orders', 'sec_orders');
SELECT fraiseql_cache.remove_table_invalidation('sec_a.tv_orders');
RESET ROLE;
SELECT fraiseql_cache.current_version(:ta, 'sec_orders') = :before_ta AS tenant_unchanged,
       fraiseql_cache.current_version(:all, 'sec_orders') = :before_all AS all_unchanged;
SELECT table_schema, table_name FROM fraiseql_cache.tracked_tables WHERE domain = 'sec_orders';
SELECT domain, owner FROM fraiseql_cache.domains WHERE domain = 'sec_orders';
-- A member of the owner role may use the domain; so may a superuser.
GRANT sec_app_a TO sec_app_c;
SET ROLE sec_app_c;
CREATE TABLE sec_c.tv_more_orders (id int, tenant_id uuid);
SELECT fraiseql_cache.setup_table_invalidation('sec_c.tv_more_orders', 'sec_orders');
SELECT fraiseql_cache.invalidate_domain('sec_orders');
RESET ROLE;
SELECT fraiseql_cache.current_version(:all, 'sec_orders') > :before_all AS member_bumped;
SELECT fraiseql_cache.set_domain_owner('sec_orders', 'sec_app_c');
SELECT domain, owner FROM fraiseql_cache.domains WHERE domain = 'sec_orders';

-- ---- 3. bounded domains per role ----------------------------------------------
SET fraiseql_cache.max_domains_per_role = 3;
SET ROLE sec_app_b;
CREATE TABLE sec_b.tv_d1 (id int, tenant_id uuid);
CREATE TABLE sec_b.tv_d2 (id int, tenant_id uuid);
CREATE TABLE sec_b.tv_d3 (id int, tenant_id uuid);
CREATE TABLE sec_b.tv_d4 (id int, tenant_id uuid);
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_d1', 'sec_d1');
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_d2', 'sec_d2');
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_d3', 'sec_d3');
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_d4', 'sec_d4');
-- an existing domain of one's own is still fine
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_d4', 'sec_d3');
-- retiring one frees its place
SELECT fraiseql_cache.remove_table_invalidation('sec_b.tv_d1');
SELECT fraiseql_cache.drop_domain('sec_d1');
SELECT fraiseql_cache.setup_table_invalidation('sec_b.tv_d1', 'sec_d5');
RESET ROLE;
RESET fraiseql_cache.max_domains_per_role;
SELECT domain FROM fraiseql_cache.domains WHERE owner = 'sec_app_b'::regrole ORDER BY 1;
SELECT refused_domains > 0 AS counted FROM fraiseql_cache.stats();

-- ---- 4. reads with the documented grants ---------------------------------------
SET ROLE sec_reader;
SELECT fraiseql_cache.current_version(:ta, 'sec_orders') > 0 AS reads;
SELECT version > 0 AS table_fallback FROM fraiseql_cache._table_version(:ta, 'sec_orders');
SELECT count(*) > 0 AS v_domain_versions FROM fraiseql_cache.v_domain_versions WHERE domain = 'sec_orders';
SELECT count(*) >= 0 AS v_recent_invalidations FROM fraiseql_cache.v_recent_invalidations;
SELECT count(*) > 0 AS v_invalidation_status FROM fraiseql_cache.v_invalidation_status;
SELECT count(*) > 0 AS domain_version FROM fraiseql_cache.domain_version WHERE domain = 'sec_orders';
-- but not the bookkeeping
INSERT INTO fraiseql_cache.domain_version VALUES (:ta, 'sec_orders', 1);
UPDATE fraiseql_cache.domains SET owner = 'sec_reader' WHERE domain = 'sec_orders';
DELETE FROM fraiseql_cache.tracked_tables;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA sec_a, sec_b, sec_c, attacker CASCADE;
DELETE FROM fraiseql_cache.domains WHERE domain LIKE 'sec\_%';
REVOKE ALL ON SCHEMA fraiseql_cache FROM sec_app_a, sec_app_b, sec_app_c, sec_attacker, sec_reader;
REVOKE ALL ON fraiseql_cache.domain_version FROM sec_reader;
REVOKE ALL ON FUNCTION fraiseql_cache.invalidate(uuid, text), fraiseql_cache.invalidate_domain(text)
    FROM sec_app_a, sec_app_b;
DROP ROLE sec_app_a, sec_app_b, sec_app_c, sec_attacker, sec_reader;
RESET client_min_messages;
