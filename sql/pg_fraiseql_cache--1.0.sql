-- pg_fraiseql_cache 1.0
\echo Use "CREATE EXTENSION pg_fraiseql_cache" to load this file. \quit

-- Persisted versions. Written only by the background worker (never inside
-- user transactions, so writers never wait on each other here).
CREATE TABLE fraiseql_cache.domain_version (
    tenant_id     uuid        NOT NULL,
    domain        text        NOT NULL,
    version       bigint      NOT NULL DEFAULT 0,
    last_modified timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, domain),
    CONSTRAINT domain_version_domain_check CHECK (octet_length(domain) BETWEEN 1 AND 63)
);
COMMENT ON TABLE fraiseql_cache.domain_version IS
    'Current version of each (tenant, domain); tenant 00000000-0000-0000-0000-000000000000 is all tenants.';

CREATE TABLE fraiseql_cache.cascade_rules (
    source_domain text        NOT NULL,
    target_domain text        NOT NULL,
    rule_type     text        NOT NULL DEFAULT 'invalidate',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_domain, target_domain),
    CONSTRAINT cascade_rules_rule_type_check CHECK (rule_type IN ('invalidate', 'notify')),
    CONSTRAINT cascade_rules_source_check CHECK (octet_length(source_domain) BETWEEN 1 AND 63),
    CONSTRAINT cascade_rules_target_check CHECK (octet_length(target_domain) BETWEEN 1 AND 63),
    CONSTRAINT cascade_rules_no_self_loop CHECK (source_domain <> target_domain)
);
-- Clear errors (with a hint) for what the CHECK constraints would refuse
-- tersely, and for self-loops.
CREATE FUNCTION fraiseql_cache._check_cascade_rule()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.rule_type IS NULL OR NEW.rule_type NOT IN ('invalidate', 'notify') THEN
        RAISE EXCEPTION 'unknown cascade rule_type "%"', NEW.rule_type
            USING ERRCODE = 'check_violation',
                  HINT = 'rule_type is ''invalidate'' (bump the target) or ''notify'' (only announce it).';
    END IF;
    IF NEW.source_domain = NEW.target_domain THEN
        RAISE EXCEPTION 'cascade rule from domain "%" to itself', NEW.source_domain
            USING ERRCODE = 'check_violation',
                  HINT = 'A change already bumps its own domain; a rule needs a different target.';
    END IF;
    IF pg_catalog.octet_length(NEW.source_domain) NOT BETWEEN 1 AND 63
       OR pg_catalog.octet_length(NEW.target_domain) NOT BETWEEN 1 AND 63 THEN
        RAISE EXCEPTION 'cascade rule domains must be 1 to 63 bytes long'
            USING ERRCODE = 'check_violation',
                  HINT = 'Use the domain names of fraiseql_cache.tracked_tables.';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER check_rule BEFORE INSERT OR UPDATE ON fraiseql_cache.cascade_rules
    FOR EACH ROW EXECUTE FUNCTION fraiseql_cache._check_cascade_rule();

COMMENT ON TABLE fraiseql_cache.cascade_rules IS
    'A change in source_domain also bumps (invalidate) or announces (notify) target_domain for the same tenant.';

-- Tables set up with setup_table_invalidation().
CREATE TABLE fraiseql_cache.tracked_tables (
    table_schema  name        NOT NULL,
    table_name    name        NOT NULL,
    domain        text        NOT NULL,
    tenant_column name,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_schema, table_name),
    CONSTRAINT tracked_tables_domain_check CHECK (octet_length(domain) BETWEEN 1 AND 63)
);
COMMENT ON COLUMN fraiseql_cache.tracked_tables.tenant_column IS 'NULL: a global domain (one version for all tenants)';

-- The worker's own state: floor = version of a pair never bumped;
-- clean_shutdown = the worker drained and stopped cleanly last time.
CREATE TABLE fraiseql_cache.worker_state (
    id             int     PRIMARY KEY CHECK (id = 1),
    floor          bigint  NOT NULL DEFAULT 0,
    clean_shutdown boolean NOT NULL DEFAULT true
);
-- No row yet: the worker writes it (a row here would collide with the
-- dumped one on pg_restore). No row reads as floor 0, clean.

-- Kept by pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.domain_version', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.cascade_rules', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.tracked_tables', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.worker_state', '');

CREATE FUNCTION fraiseql_cache.track_row()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'fraiseql_cache_track_row';

CREATE FUNCTION fraiseql_cache.current_version(tenant uuid, domain text)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'fraiseql_cache_current_version';
COMMENT ON FUNCTION fraiseql_cache.current_version(uuid, text) IS
    'Current version of (tenant, domain), from shared memory; read it before reading the data it tags.';

CREATE FUNCTION fraiseql_cache.current_versions(tenant uuid, domains text[])
RETURNS bigint[]
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'fraiseql_cache_current_versions';
COMMENT ON FUNCTION fraiseql_cache.current_versions(uuid, text[]) IS
    'Current versions of (tenant, d) for each d in domains, in the same order.';

CREATE FUNCTION fraiseql_cache._serves_this_database()
RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'fraiseql_cache_serves_this_database';

CREATE FUNCTION fraiseql_cache._require_ready()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_require_ready';

-- Resolves a table name given as text the way the caller would: with the
-- caller's search_path (unqualified names, quoted mixed-case names). Every
-- other reference in its body is schema-qualified, which is why it alone
-- carries no SET search_path.
CREATE FUNCTION fraiseql_cache._resolve_table(table_name text)
RETURNS regclass
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    rel regclass;
BEGIN
    IF table_name IS NULL OR table_name = '' THEN
        RAISE EXCEPTION 'table name must not be NULL or empty'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the table as text, e.g. ''tv_contract'' or ''public.tv_contract''.';
    END IF;
    BEGIN
        rel := pg_catalog.to_regclass(table_name);
    EXCEPTION WHEN invalid_name OR syntax_error OR invalid_parameter_value OR name_too_long THEN
        rel := NULL;
    END;
    IF rel IS NULL THEN
        RAISE EXCEPTION 'table "%" does not exist', table_name
            USING ERRCODE = 'undefined_table',
                  HINT = 'Name an existing table, schema-qualified if it is not on the search_path; quote mixed-case names (''"MyTable"'').';
    END IF;
    RETURN rel;
END
$fn$;

CREATE FUNCTION fraiseql_cache._register_global(domain text)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_register_global';

CREATE FUNCTION fraiseql_cache._drop_triggers(rel regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    trg name;
BEGIN
    FOR trg IN SELECT t.tgname FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = rel AND NOT t.tgisinternal AND t.tgparentid = 0
                  AND t.tgname IN ('zz_fraiseql_cache_row', 'zz_fraiseql_cache_truncate')
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg, rel);
    END LOOP;
END
$fn$;

-- SECURITY DEFINER (the extension owner): application roles cannot write
-- tracked_tables or domain_version themselves. What it registers comes
-- from the table's zz_fraiseql_cache_row trigger, which only a role allowed
-- to create triggers on the table can have put there, so calling it
-- directly registers nothing a caller could not register through setup.
-- The n-th (1-based) argument of a trigger, from pg_trigger.tgargs
-- (NUL-separated bytes); NULL when there is none.
CREATE FUNCTION fraiseql_cache._trigger_argument(tgargs bytea, n integer)
RETURNS text
LANGUAGE C IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'fraiseql_cache_trigger_argument';

CREATE FUNCTION fraiseql_cache._register_table(rel regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    args bytea;
    dom  text;
    col  text;
BEGIN
    SELECT t.tgargs INTO args
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = rel AND t.tgname = 'zz_fraiseql_cache_row' AND t.tgparentid = 0
       AND t.tgfoid = 'fraiseql_cache.track_row()'::pg_catalog.regprocedure;
    IF args IS NULL THEN
        RAISE EXCEPTION 'table % has no pg_fraiseql_cache trigger', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Use fraiseql_cache.setup_table_invalidation().';
    END IF;
    dom := fraiseql_cache._trigger_argument(args, 1);
    col := NULLIF(fraiseql_cache._trigger_argument(args, 2), '');

    INSERT INTO fraiseql_cache.tracked_tables AS t (table_schema, table_name, domain, tenant_column)
    SELECT n.nspname, c.relname, dom, col
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = rel
    ON CONFLICT (table_schema, table_name) DO UPDATE
       SET domain = EXCLUDED.domain, tenant_column = EXCLUDED.tenant_column
     WHERE (t.domain, t.tenant_column) IS DISTINCT FROM (EXCLUDED.domain, EXCLUDED.tenant_column);

    IF col IS NULL THEN
        PERFORM fraiseql_cache._register_global(dom);
    END IF;

    BEGIN
        INSERT INTO fraiseql_cache.domain_version (tenant_id, domain, version, last_modified)
        VALUES ('00000000-0000-0000-0000-000000000000', dom,
                fraiseql_cache.current_version('00000000-0000-0000-0000-000000000000', dom), now())
        ON CONFLICT (tenant_id, domain) DO NOTHING;
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        -- Versions are not served yet (the worker is loading): the row
        -- comes with the domain's first bump.
        NULL;
    END;
END
$fn$;

-- SECURITY DEFINER like _register_table(); it removes the registration of
-- a table only once the table's trigger is gone. Returns whether there was one.
CREATE FUNCTION fraiseql_cache._unregister_table(rel regclass)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n int;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = rel AND t.tgname = 'zz_fraiseql_cache_row') THEN
        RAISE EXCEPTION 'table % still has its pg_fraiseql_cache trigger', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Use fraiseql_cache.remove_table_invalidation().';
    END IF;
    DELETE FROM fraiseql_cache.tracked_tables t
     USING pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
     WHERE c.oid = rel AND t.table_schema = ns.nspname AND t.table_name = c.relname;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$fn$;

CREATE FUNCTION fraiseql_cache.setup_table_invalidation(
    table_name    text,
    domain        text DEFAULT NULL,
    tenant_column text DEFAULT 'tenant_id')
RETURNS text
LANGUAGE sql
AS $fn$
    SELECT fraiseql_cache._setup_table_invalidation(
        fraiseql_cache._resolve_table(table_name), domain, tenant_column)
$fn$;

-- Runs as the caller: the ownership check and CREATE TRIGGER see who is
-- asking. Only the bookkeeping is done as the extension owner, by
-- _register_table(), which reads what to register from the triggers.
CREATE FUNCTION fraiseql_cache._setup_table_invalidation(
    rel           regclass,
    domain        text,
    tenant_column text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    relkind   "char";
    relpersistence "char";
    is_partition boolean;
    nsp       name;
    rel_name  name;
    dom       text := _setup_table_invalidation.domain;
    col       name := _setup_table_invalidation.tenant_column;
    col_type  oid;
    col_arg   text;
    expected_args text;
BEGIN
    PERFORM fraiseql_cache._require_ready();
    SELECT c.relkind, c.relpersistence, c.relispartition, n.nspname, c.relname
      INTO relkind, relpersistence, is_partition, nsp, rel_name
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = rel;
    IF relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be tracked; track the tables a view reads.';
    END IF;
    IF relpersistence = 't' THEN
        RAISE EXCEPTION '"%" is a temporary table', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Temporary tables are private to a session and cannot be tracked.';
    END IF;
    IF is_partition THEN
        RAISE EXCEPTION '"%" is a partition', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Set up the partitioned parent table; its partitions are tracked with it.';
    END IF;
    IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = rel), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run setup_table_invalidation() as the table''s owner.';
    END IF;

    IF dom IS NULL THEN
        dom := pg_catalog.regexp_replace(rel_name, '^(tv_|tb_)', '');
    END IF;
    IF pg_catalog.octet_length(dom) NOT BETWEEN 1 AND 63 THEN
        RAISE EXCEPTION 'cache domain "%" must be 1 to 63 bytes long', dom
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a domain of 1 to 63 bytes as the second argument, or NULL to use the table name without tv_/tb_.';
    END IF;

    IF col IS NOT NULL THEN
        SELECT a.atttypid INTO col_type
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF col_type IS NULL THEN
            IF col = 'tenant_id' THEN
                RAISE NOTICE 'table % has no column tenant_id: domain "%" is global (one version for all tenants)', rel, dom;
                col := NULL;
            ELSE
                RAISE EXCEPTION 'column "%" of table % does not exist', col, rel
                    USING ERRCODE = 'undefined_column',
                          HINT = 'Pass the name of the table''s uuid tenant column, or NULL for a global domain.';
            END IF;
        ELSIF col_type <> 'uuid'::regtype THEN
            RAISE EXCEPTION 'tenant column "%" of table % is of type %, not uuid', col, rel, col_type::regtype
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The tenant column must be of type uuid; pass NULL for a global domain.';
        END IF;
    END IF;
    col_arg := COALESCE(col::text, '');

    -- Idempotent without locking writers out: when both triggers already
    -- exist with these arguments and ENABLE ALWAYS, nothing is recreated
    -- (CREATE TRIGGER would wait for, and block, every writer of the table).
    expected_args := pg_catalog.encode(pg_catalog.convert_to(dom, 'UTF8'), 'escape') || '\000' ||
                     pg_catalog.encode(pg_catalog.convert_to(col_arg, 'UTF8'), 'escape') || '\000';
    IF (SELECT count(*) FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = rel AND t.tgenabled = 'A'
           AND t.tgname IN ('zz_fraiseql_cache_row', 'zz_fraiseql_cache_truncate')
           AND pg_catalog.encode(t.tgargs, 'escape') = expected_args) <> 2 THEN
        PERFORM fraiseql_cache._drop_triggers(rel);
        -- BEFORE ROW: no after-trigger queue per row. Named to fire after the
        -- table's other BEFORE triggers (alphabetical order), so it sees the
        -- final tenant of the row.
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER zz_fraiseql_cache_row BEFORE INSERT OR UPDATE OR DELETE ON %s '
            'FOR EACH ROW EXECUTE FUNCTION fraiseql_cache.track_row(%L, %L)', rel, dom, col_arg);
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER zz_fraiseql_cache_truncate BEFORE TRUNCATE ON %s '
            'FOR EACH STATEMENT EXECUTE FUNCTION fraiseql_cache.track_row(%L, %L)', rel, dom, col_arg);
        -- ALWAYS: logical replication apply and session_replication_role =
        -- replica still invalidate.
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_fraiseql_cache_row', rel);
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_fraiseql_cache_truncate', rel);
    END IF;

    PERFORM fraiseql_cache._register_table(rel);

    RETURN pg_catalog.format('tracking %s as domain "%s" (%s)', rel, dom,
        CASE WHEN col IS NULL THEN 'global: one version for all tenants'
             ELSE pg_catalog.format('tenant column %s', col) END);
END
$fn$;
COMMENT ON FUNCTION fraiseql_cache.setup_table_invalidation(text, text, text) IS
    'Track a table: every committed change bumps (tenant, domain) once per transaction. Idempotent.';

CREATE FUNCTION fraiseql_cache.remove_table_invalidation(table_name text)
RETURNS text
LANGUAGE sql
AS $fn$
    SELECT fraiseql_cache._remove_table_invalidation(fraiseql_cache._resolve_table(table_name))
$fn$;

CREATE FUNCTION fraiseql_cache._remove_table_invalidation(rel regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n   int;
BEGIN
    IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = rel), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run remove_table_invalidation() as the table''s owner.';
    END IF;
    PERFORM fraiseql_cache._drop_triggers(rel);
    IF NOT fraiseql_cache._unregister_table(rel) THEN
        RETURN pg_catalog.format('%s was not tracked', rel);
    END IF;
    RETURN pg_catalog.format('stopped tracking %s', rel);
END
$fn$;

CREATE FUNCTION fraiseql_cache.stats(
    OUT worker_pid integer,
    OUT serving boolean,
    OUT rows_seen bigint,
    OUT pairs_recorded bigint,
    OUT transactions bigint,
    OUT dedup_ratio double precision,
    OUT bumps bigint,
    OUT cascade_bumps bigint,
    OUT notifies bigint,
    OUT batches bigint,
    OUT ring_size bigint,
    OUT ring_used bigint,
    OUT ring_high_water bigint,
    OUT ring_full_waits bigint,
    OUT overflows bigint,
    OUT resets bigint,
    OUT wait_timeouts bigint,
    OUT shared_entries bigint,
    OUT max_entries bigint,
    OUT spilled_pairs bigint,
    OUT table_reads bigint,
    OUT floor bigint,
    OUT last_batch_lag_ms double precision,
    OUT max_batch_lag_ms double precision)
RETURNS record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_stats';
COMMENT ON FUNCTION fraiseql_cache.stats() IS
    'Counters since server start: rows seen by triggers, pairs handed off, dedup ratio, bumps, ring use, overflows/resets, waits.';

-- Manual bumps, applied at commit like a trigger's (nothing on rollback).
CREATE FUNCTION fraiseql_cache.invalidate(tenant uuid, domain text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_invalidate';
COMMENT ON FUNCTION fraiseql_cache.invalidate(uuid, text) IS
    'Bump (tenant, domain) (and its cascades) when the current transaction commits.';

CREATE FUNCTION fraiseql_cache.invalidate_domain(domain text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_invalidate_domain';
COMMENT ON FUNCTION fraiseql_cache.invalidate_domain(text) IS
    'Bump every known tenant of domain (and the all-tenants pair) when the current transaction commits.';

-- Monitoring views.
CREATE FUNCTION fraiseql_cache._shared_versions(
    OUT tenant_id uuid, OUT domain text, OUT version bigint, OUT last_modified timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_shared_versions';

CREATE VIEW fraiseql_cache.v_domain_versions AS
SELECT tenant_id, domain, version, last_modified
  FROM fraiseql_cache._shared_versions();
COMMENT ON VIEW fraiseql_cache.v_domain_versions IS
    'Live versions, as current_version() serves them (shared memory).';

CREATE FUNCTION fraiseql_cache._recent_invalidations(
    OUT invalidated_at timestamptz, OUT tenant_id uuid, OUT domain text, OUT version bigint,
    OUT source text, OUT transactions integer)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_recent_invalidations';

CREATE VIEW fraiseql_cache.v_recent_invalidations AS
SELECT invalidated_at, tenant_id, domain, version, source, transactions
  FROM fraiseql_cache._recent_invalidations();
COMMENT ON VIEW fraiseql_cache.v_recent_invalidations IS
    'The last 1024 bumps, newest first (kept in shared memory, not WAL-logged): source is trigger, manual, truncate, cascade or reset; transactions is how many commits were coalesced into the bump.';

CREATE VIEW fraiseql_cache.v_invalidation_status AS
SELECT t.table_schema,
       t.table_name,
       t.domain,
       t.tenant_column,
       c.oid IS NOT NULL AS table_exists,
       COALESCE((SELECT bool_and(tg.tgenabled = 'A') AND count(*) = 2
                   FROM pg_catalog.pg_trigger tg
                  WHERE tg.tgrelid = c.oid
                    AND tg.tgname IN ('zz_fraiseql_cache_row', 'zz_fraiseql_cache_truncate')),
                false) AS trigger_enabled,
       t.created_at
  FROM fraiseql_cache.tracked_tables t
  LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.table_schema
  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name;
COMMENT ON VIEW fraiseql_cache.v_invalidation_status IS
    'Each tracked table: domain, tenant column (NULL: global) and whether its triggers are in place and enabled ALWAYS.';

-- DDL on tracked tables. DROP TABLE removes the registration; ALTER TABLE
-- (which can change what queries return: columns, types, defaults,
-- partitions) bumps the domain, and a rename follows the table.
-- Both run as the extension owner (SECURITY DEFINER): the role altering or
-- dropping its own table need not be able to write tracked_tables.
CREATE FUNCTION fraiseql_cache._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF pg_catalog.to_regclass('fraiseql_cache.tracked_tables') IS NULL THEN
        RETURN;  -- the extension itself is being dropped
    END IF;
    DELETE FROM fraiseql_cache.tracked_tables t
     USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'table' AND t.table_schema = o.schema_name
       AND t.table_name = o.object_name;
END
$fn$;

CREATE FUNCTION fraiseql_cache._on_ddl_command_end()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF NOT fraiseql_cache._serves_this_database() THEN
        RETURN;  -- e.g. pg_restore into another database: nothing to bump
    END IF;
    FOR r IN
        SELECT DISTINCT c.oid, n.nspname, c.relname,
               fraiseql_cache._trigger_argument(tg.tgargs, 1) AS domain,
               NULLIF(fraiseql_cache._trigger_argument(tg.tgargs, 2), '') AS tenant_column
          FROM pg_catalog.pg_event_trigger_ddl_commands() d
          JOIN pg_catalog.pg_class c ON c.oid = d.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = c.oid AND tg.tgname = 'zz_fraiseql_cache_row'
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.command_tag = 'ALTER TABLE'
           AND tg.tgparentid = 0
    LOOP
        -- A rename (of the table or its schema) keeps the registration.
        IF NOT EXISTS (SELECT 1 FROM fraiseql_cache.tracked_tables t
                        WHERE t.table_schema = r.nspname AND t.table_name = r.relname) THEN
            DELETE FROM fraiseql_cache.tracked_tables t
             WHERE t.domain = r.domain
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c2
                                 JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
                                WHERE n2.nspname = t.table_schema AND c2.relname = t.table_name);
            INSERT INTO fraiseql_cache.tracked_tables (table_schema, table_name, domain, tenant_column)
            VALUES (r.nspname, r.relname, r.domain, r.tenant_column)
            ON CONFLICT DO NOTHING;
        END IF;
        PERFORM fraiseql_cache.invalidate_domain(r.domain);
    END LOOP;
END
$fn$;

CREATE EVENT TRIGGER fraiseql_cache_sql_drop ON sql_drop
    EXECUTE FUNCTION fraiseql_cache._on_sql_drop();
CREATE EVENT TRIGGER fraiseql_cache_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION fraiseql_cache._on_ddl_command_end();

-- Privileges. Reading versions (the functions, the views) is open to every
-- role that is granted USAGE on the schema; bumping by hand and writing
-- rules are granted explicitly (see the README's "Privileges").
REVOKE ALL ON FUNCTION fraiseql_cache.invalidate(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraiseql_cache.invalidate_domain(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraiseql_cache._register_global(text) FROM PUBLIC;
