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
-- dumped one on pg_restore). No row means a new extension: the worker
-- starts every version above the clock (see the README's guarantees).

-- Who owns each domain: the owner of the first table tracked under it.
-- Only roles with the owner's privileges attach tables to it, change its
-- scope or bump it by hand. Written by the extension's functions only.
CREATE TABLE fraiseql_cache.domains (
    domain     text        PRIMARY KEY,
    owner      regrole     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT domains_domain_check CHECK (octet_length(domain) BETWEEN 1 AND 63)
);
COMMENT ON TABLE fraiseql_cache.domains IS
    'Owner of each cache domain; only roles with its privileges attach tables, change its scope or bump it by hand.';

-- The lowest version any tenant of a domain reads: raised to the domain's
-- all-tenants version by every whole-domain bump (TRUNCATE,
-- invalidate_domain(), DDL, a scope change), so tenants without a row of
-- their own move too. Written by the worker only.
CREATE TABLE fraiseql_cache.domain_floor (
    domain text   PRIMARY KEY,
    floor  bigint NOT NULL,
    CONSTRAINT domain_floor_domain_check CHECK (octet_length(domain) BETWEEN 1 AND 63)
);
COMMENT ON TABLE fraiseql_cache.domain_floor IS
    'Lowest version of every tenant of a domain (whole-domain bumps); a tenant without a domain_version row reads max(this, the worker floor).';

-- The worker's tables are never truncated by vacuum: the truncation takes an
-- ACCESS EXCLUSIVE lock the worker would wait for, and a commit waiting for
-- the worker could take that wait for a stall.
ALTER TABLE fraiseql_cache.domain_version SET (vacuum_truncate = off);
ALTER TABLE fraiseql_cache.domain_floor SET (vacuum_truncate = off);
ALTER TABLE fraiseql_cache.worker_state SET (vacuum_truncate = off);

-- Kept by pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.domain_version', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.cascade_rules', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.tracked_tables', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.worker_state', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.domains', '');
SELECT pg_catalog.pg_extension_config_dump('fraiseql_cache.domain_floor', '');

-- A change to the rules reaches the worker's cached rule graph at commit.
CREATE FUNCTION fraiseql_cache._rules_changed()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'fraiseql_cache_rules_changed';
CREATE TRIGGER rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON fraiseql_cache.cascade_rules
    FOR EACH STATEMENT EXECUTE FUNCTION fraiseql_cache._rules_changed();
ALTER TABLE fraiseql_cache.cascade_rules ENABLE ALWAYS TRIGGER rules_changed;

-- Logical replication (a publication FOR ALL TABLES) must not carry one
-- server's versions, rules or state into another: rows a replication worker
-- applies to these tables are skipped with a WARNING.
CREATE FUNCTION fraiseql_cache._replicated_write()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'fraiseql_cache_replicated_write';
DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['domain_version', 'cascade_rules', 'tracked_tables',
                             'worker_state', 'domains', 'domain_floor'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER replicated_write BEFORE INSERT OR UPDATE OR DELETE ON fraiseql_cache.%I '
            'FOR EACH ROW EXECUTE FUNCTION fraiseql_cache._replicated_write()', t);
        EXECUTE pg_catalog.format(
            'ALTER TABLE fraiseql_cache.%I ENABLE REPLICA TRIGGER replicated_write', t);
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER replicated_truncate BEFORE TRUNCATE ON fraiseql_cache.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION fraiseql_cache._replicated_write()', t);
        EXECUTE pg_catalog.format(
            'ALTER TABLE fraiseql_cache.%I ENABLE REPLICA TRIGGER replicated_truncate', t);
    END LOOP;
END
$do$;

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

CREATE FUNCTION fraiseql_cache.wait_for_persistence(timeout_ms integer DEFAULT 10000)
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_wait_for_persistence';
COMMENT ON FUNCTION fraiseql_cache.wait_for_persistence(integer) IS
    'Wait until fraiseql_cache.domain_version holds every version current_version() returned before the call; false if timeout_ms passed first.';

CREATE FUNCTION fraiseql_cache._serves_this_database()
RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'fraiseql_cache_serves_this_database';

CREATE FUNCTION fraiseql_cache._serve_this_database()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_serve_this_database';

CREATE FUNCTION fraiseql_cache._require_ready()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_require_ready';

-- Resolves a table name given as text the way the caller would: with the
-- caller's search_path (unqualified names, quoted mixed-case names). In C,
-- so that nothing else is looked up through that search_path.
CREATE FUNCTION fraiseql_cache._resolve_table(table_name text)
RETURNS regclass
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'fraiseql_cache_resolve_table';

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

-- Checks who may attach the table to its trigger's domain and writes the
-- registration as the extension owner (see src/registration.cpp); the
-- worker registers the domain's all-tenants row at commit.
CREATE FUNCTION fraiseql_cache._register_table(rel regclass)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_register_table';

-- Whether the DDL running now is _install_triggers()' own.
CREATE FUNCTION fraiseql_cache._setup_ddl()
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_setup_ddl';

-- Drops and creates the table's two triggers as the caller (CREATE TRIGGER
-- checks that it owns the table).
CREATE FUNCTION fraiseql_cache._install_triggers(rel regclass, domain text, tenant_column text)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_install_triggers';

-- At commit, the worker re-reads the scope of a domain a table left.
CREATE FUNCTION fraiseql_cache._note_registration(domain text)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_note_registration';

-- Raises 42501 unless the caller has the privileges of the domain's owner.
CREATE FUNCTION fraiseql_cache._check_domain_access(domain text, action text)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_check_domain_access';

-- Whether a relation may bump a domain: its root table is registered under
-- it, or the table's owner has the privileges of the domain's owner. Read by
-- the row trigger once per backend and trigger, and by the DDL hooks.
CREATE FUNCTION fraiseql_cache._may_bump(rel oid, domain text)
RETURNS boolean
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (
        SELECT 1
          FROM fraiseql_cache.tracked_tables t
          JOIN pg_catalog.pg_namespace n ON n.nspname = t.table_schema
          JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
         WHERE t.domain = $2
           AND c.oid = COALESCE(pg_catalog.pg_partition_root($1), $1))
        OR EXISTS (
        SELECT 1
          FROM fraiseql_cache.domains d, pg_catalog.pg_class c
         WHERE d.domain = $2 AND c.oid = $1
           AND pg_catalog.pg_has_role(c.relowner, d.owner, 'USAGE'))
$fn$;

-- A version from the tables (hot standby, pairs beyond shared memory, while
-- the worker loads), for every role that may read versions; and whether the
-- table's values are final (a clean stop).
CREATE FUNCTION fraiseql_cache._table_version(tenant uuid, domain text,
                                              OUT version bigint, OUT final boolean)
RETURNS record
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
-- PL/pgSQL keeps its plans for the session: on a hot standby every read
-- comes here.
DECLARE
    ws_floor bigint;
    clean boolean;
    dom_floor bigint;
    pair bigint;
BEGIN
    SELECT ws.floor, ws.clean_shutdown INTO ws_floor, clean
      FROM fraiseql_cache.worker_state ws WHERE ws.id = 1;
    SELECT df.floor INTO dom_floor FROM fraiseql_cache.domain_floor df WHERE df.domain = $2;
    SELECT dv.version INTO pair FROM fraiseql_cache.domain_version dv
     WHERE dv.domain = $2
       AND dv.tenant_id = CASE WHEN EXISTS (
             SELECT 1 FROM fraiseql_cache.tracked_tables tt
              WHERE tt.domain = $2 AND tt.tenant_column IS NULL)
           THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE $1 END;
    version := GREATEST(COALESCE(pair, ws_floor, 0), dom_floor);
    final := COALESCE(clean, true);
END
$fn$;

-- A table and, when it is partitioned, all its partitions (pg_partition_tree
-- returns nothing for a plain table).
CREATE FUNCTION fraiseql_cache._relations_of(rel regclass, OUT relid regclass)
RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT $1 UNION SELECT t.relid FROM pg_catalog.pg_partition_tree($1) t
$fn$;

-- Refuses tables whose rows a row trigger would not see, or would see
-- before another trigger changes them: inheritance children (writes to a
-- child fire only the child's triggers), and enabled BEFORE ROW INSERT or
-- UPDATE triggers that fire after ours (BEFORE ROW triggers fire in name
-- order, and such a trigger could rewrite the tenant). Checks the table and
-- all its partitions.
CREATE FUNCTION fraiseql_cache._check_trackable(rel regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    SELECT c.oid::regclass AS parent, i.inhrelid::regclass AS child INTO r
      FROM fraiseql_cache._relations_of(rel) p
      JOIN pg_catalog.pg_class c ON c.oid = p.relid
      JOIN pg_catalog.pg_inherits i ON i.inhparent = c.oid
      JOIN pg_catalog.pg_class ch ON ch.oid = i.inhrelid
     WHERE c.relkind = 'r' OR NOT ch.relispartition
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % has inheritance child %', r.parent, r.child
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Writes to an inheritance child fire only the child''s triggers.',
                  HINT = 'Track each table on its own, or use declarative partitioning (its partitions are tracked with the parent).';
    END IF;
    SELECT t.tgname, t.tgrelid::regclass AS tbl INTO r
      FROM fraiseql_cache._relations_of(rel) p
      JOIN pg_catalog.pg_trigger t ON t.tgrelid = p.relid
     WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
       AND (t.tgtype & 3) = 3                     -- ROW, BEFORE
       AND (t.tgtype & (4 | 16)) <> 0             -- INSERT or UPDATE
       AND t.tgname > 'zz_fraiseql_cache_row' COLLATE "C"
       AND t.tgfoid <> 'fraiseql_cache.track_row()'::regprocedure
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'trigger "%" on % fires after zz_fraiseql_cache_row and can change the rows it records', r.tgname, r.tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'BEFORE ROW triggers fire in name order: rename it to sort before "zz_fraiseql_cache_row", or make it an AFTER trigger.';
    END IF;
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
    dom text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = rel AND t.tgname = 'zz_fraiseql_cache_row') THEN
        RAISE EXCEPTION 'table % still has its pg_fraiseql_cache trigger', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Use fraiseql_cache.remove_table_invalidation().';
    END IF;
    -- The worker re-reads the scope of the domain the table leaves.
    n := 0;
    FOR dom IN WITH d AS (
                   DELETE FROM fraiseql_cache.tracked_tables t
                    USING pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
                    WHERE c.oid = rel AND t.table_schema = ns.nspname AND t.table_name = c.relname
                RETURNING t.domain)
               SELECT d.domain FROM d
    LOOP
        PERFORM fraiseql_cache._note_registration(dom);
        n := n + 1;
    END LOOP;
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
    PERFORM fraiseql_cache._check_trackable(rel);

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
         WHERE t.tgrelid = rel AND t.tgenabled = 'A' AND t.tgqual IS NULL
           AND t.tgfoid = 'fraiseql_cache.track_row()'::pg_catalog.regprocedure
           AND ((t.tgname = 'zz_fraiseql_cache_row' AND t.tgtype = 31)          -- ROW BEFORE INSERT UPDATE DELETE
                OR (t.tgname = 'zz_fraiseql_cache_truncate' AND t.tgtype = 34)) -- STATEMENT BEFORE TRUNCATE
           AND pg_catalog.encode(t.tgargs, 'escape') = expected_args) <> 2 THEN
        PERFORM fraiseql_cache._install_triggers(rel, dom, col_arg);
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

CREATE FUNCTION fraiseql_cache.set_domain_owner(domain text, owner regrole)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_set_domain_owner';
COMMENT ON FUNCTION fraiseql_cache.set_domain_owner(text, regrole) IS
    'Hand a cache domain to another role (its owner or a superuser).';

CREATE FUNCTION fraiseql_cache.drop_domain(domain text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_drop_domain';
COMMENT ON FUNCTION fraiseql_cache.drop_domain(text) IS
    'Retire a domain with no tracked tables: bump it once more, drop its rules and owner; its versions are kept so the name never repeats one.';

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
    OUT max_batch_lag_ms double precision,
    OUT stalled_waits bigint,
    OUT collapsed_transactions bigint,
    OUT refused_domains bigint)
RETURNS record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'fraiseql_cache_stats';
COMMENT ON FUNCTION fraiseql_cache.stats() IS
    'Counters since server start: rows seen by triggers, pairs handed off, dedup ratio, bumps, ring use, overflows/resets, waits (timed out, or cut short by a worker waiting on a lock), transactions handed off per domain, domains refused by max_domains_per_role.';

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
DECLARE
    dom text;
BEGIN
    IF pg_catalog.to_regclass('fraiseql_cache.tracked_tables') IS NULL THEN
        RETURN;  -- the extension itself is being dropped
    END IF;
    FOR dom IN WITH d AS (
                   DELETE FROM fraiseql_cache.tracked_tables t
                    USING pg_catalog.pg_event_trigger_dropped_objects() o
                    WHERE o.object_type = 'table' AND t.table_schema = o.schema_name
                      AND t.table_name = o.object_name
                RETURNING t.domain)
               SELECT DISTINCT d.domain FROM d
    LOOP
        -- The worker re-reads the scope of the domain the table left.
        IF fraiseql_cache._serves_this_database() THEN
            PERFORM fraiseql_cache._note_registration(dom);
        END IF;
    END LOOP;
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
    t record;
    root regclass;
BEGIN
    IF NOT fraiseql_cache._serves_this_database() THEN
        RETURN;  -- e.g. pg_restore into another database: nothing to bump
    END IF;
    -- A table becoming an inheritance child of a tracked table: its rows
    -- would change without the parent's triggers firing.
    SELECT i.inhrelid::regclass AS child, i.inhparent::regclass AS parent INTO r
      FROM pg_catalog.pg_event_trigger_ddl_commands() d
      JOIN pg_catalog.pg_inherits i ON i.inhrelid = d.objid
      JOIN pg_catalog.pg_class ch ON ch.oid = i.inhrelid
      JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = i.inhparent
                                   AND tg.tgfoid = 'fraiseql_cache.track_row()'::regprocedure
     WHERE d.classid = 'pg_catalog.pg_class'::regclass AND NOT ch.relispartition
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % cannot inherit from % while it is tracked by pg_fraiseql_cache', r.child, r.parent
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Writes to an inheritance child fire only the child''s triggers.',
                  HINT = 'Track the child on its own, or use declarative partitioning.';
    END IF;

    -- ALTER SCHEMA ... RENAME: registrations follow their tables (a
    -- registration left under the old name could be claimed by whoever
    -- creates a table of that name).
    UPDATE fraiseql_cache.tracked_tables tt SET table_schema = n.nspname
      FROM pg_catalog.pg_event_trigger_ddl_commands() d
      JOIN pg_catalog.pg_namespace n ON n.oid = d.objid
      JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
      JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = c.oid AND tg.tgname = 'zz_fraiseql_cache_row'
                                   AND tg.tgparentid = 0
                                   AND tg.tgfoid = 'fraiseql_cache.track_row()'::regprocedure
     WHERE d.command_tag = 'ALTER SCHEMA' AND d.classid = 'pg_catalog.pg_namespace'::regclass
       AND tt.table_name = c.relname
       AND tt.domain = fraiseql_cache._trigger_argument(tg.tgargs, 1)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n2 WHERE n2.nspname = tt.table_schema);

    FOR r IN
        SELECT DISTINCT c.oid, n.nspname, c.relname, tg.tgparentid = 0 AS is_root, d.command_tag,
               fraiseql_cache._trigger_argument(tg.tgargs, 1) AS domain,
               NULLIF(fraiseql_cache._trigger_argument(tg.tgargs, 2), '') AS tenant_column
          FROM pg_catalog.pg_event_trigger_ddl_commands() d
          JOIN pg_catalog.pg_class c
            ON c.oid = CASE WHEN d.classid = 'pg_catalog.pg_trigger'::regclass
                            THEN (SELECT t2.tgrelid FROM pg_catalog.pg_trigger t2 WHERE t2.oid = d.objid)
                            ELSE d.objid END
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = c.oid AND tg.tgname = 'zz_fraiseql_cache_row'
                                       AND tg.tgfoid = 'fraiseql_cache.track_row()'::regprocedure
         WHERE d.classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_trigger'::regclass)
    LOOP
        root := COALESCE(pg_catalog.pg_partition_root(r.oid), r.oid);
        -- A trigger made by hand, outside setup_table_invalidation(), for a
        -- domain this table may not bump: refused now rather than at the
        -- first write.
        IF NOT fraiseql_cache._setup_ddl() AND NOT fraiseql_cache._may_bump(r.oid, r.domain) THEN
            RAISE EXCEPTION 'table %.% may not bump cache domain "%"', r.nspname, r.relname, r.domain
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Track the table with fraiseql_cache.setup_table_invalidation() as a role allowed to use the domain.';
        END IF;
        -- Nothing that would fire after our row trigger, no inheritance.
        PERFORM fraiseql_cache._check_trackable(root);
        -- The triggers stay ENABLE ALWAYS: ALTER TABLE ... ENABLE TRIGGER ALL
        -- (after a bulk load with DISABLE TRIGGER ALL) brings them back as
        -- ORIGIN, which logical replication apply and session_replication_role
        -- = replica would skip. A disabled trigger is left as the owner asked,
        -- loudly; the domain is bumped now and again when it is enabled.
        FOR t IN
            SELECT tg.tgrelid::regclass AS tbl, tg.tgname, tg.tgenabled
              FROM fraiseql_cache._relations_of(root) pt
              JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = pt.relid
             WHERE tg.tgfoid = 'fraiseql_cache.track_row()'::regprocedure AND tg.tgenabled <> 'A'
             ORDER BY tg.tgrelid, tg.tgname
        LOOP
            IF t.tgenabled = 'D' THEN
                RAISE WARNING 'pg_fraiseql_cache trigger "%" on % is disabled: changes to the table bump nothing until it is enabled', t.tgname, t.tbl
                    USING HINT = pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER ALL (the domain is bumped then, and kept ENABLE ALWAYS)', t.tbl);
            ELSE
                EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.tbl, t.tgname);
            END IF;
        END LOOP;
        -- A rename (of the table or its schema) keeps the registration: a
        -- registration of the same domain whose table is gone moves to it.
        IF r.is_root AND r.command_tag = 'ALTER TABLE' AND NOT EXISTS (
               SELECT 1 FROM fraiseql_cache.tracked_tables tt
                WHERE tt.table_schema = r.nspname AND tt.table_name = r.relname) THEN
            WITH gone AS (
                DELETE FROM fraiseql_cache.tracked_tables tt
                 WHERE tt.domain = r.domain
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c2
                                     JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
                                    WHERE n2.nspname = tt.table_schema AND c2.relname = tt.table_name)
                RETURNING 1)
            INSERT INTO fraiseql_cache.tracked_tables (table_schema, table_name, domain, tenant_column)
            SELECT r.nspname, r.relname, r.domain, r.tenant_column WHERE EXISTS (SELECT 1 FROM gone)
            ON CONFLICT DO NOTHING;
        END IF;
        -- Columns, types, defaults, attached partitions, trigger state: what
        -- queries return may have changed, for every tenant. Not for the
        -- creation of a trigger or a table, nor for setup's own DDL.
        IF r.command_tag = 'ALTER TABLE' AND NOT fraiseql_cache._setup_ddl() THEN
            PERFORM fraiseql_cache.invalidate_domain(r.domain);
        END IF;
    END LOOP;
END
$fn$;

CREATE EVENT TRIGGER fraiseql_cache_sql_drop ON sql_drop
    EXECUTE FUNCTION fraiseql_cache._on_sql_drop();
CREATE EVENT TRIGGER fraiseql_cache_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE TRIGGER', 'ALTER TRIGGER', 'ALTER SCHEMA')
    EXECUTE FUNCTION fraiseql_cache._on_ddl_command_end();
-- Also with session_replication_role = replica (which skips ORIGIN event
-- triggers and table triggers): DDL there must not go unseen either.
ALTER EVENT TRIGGER fraiseql_cache_sql_drop ENABLE ALWAYS;
ALTER EVENT TRIGGER fraiseql_cache_ddl_command_end ENABLE ALWAYS;

-- Privileges. Reading versions (the functions, the views) is open to every
-- role that is granted USAGE on the schema; bumping by hand and writing
-- rules are granted explicitly (see the README's "Privileges").
REVOKE ALL ON FUNCTION fraiseql_cache.invalidate(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraiseql_cache.invalidate_domain(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fraiseql_cache._note_registration(text) FROM PUBLIC;
-- Reading versions: the views, like the functions, need only USAGE on the schema.
GRANT SELECT ON fraiseql_cache.v_domain_versions, fraiseql_cache.v_recent_invalidations,
                fraiseql_cache.v_invalidation_status, fraiseql_cache.domains TO PUBLIC;

-- Serve this database from now on: a slot of shared memory and a worker of
-- its own, with no restart. Refused (SQLSTATE 53400, and the extension is not
-- created) when fraiseql_cache.max_databases databases are served already.
SELECT fraiseql_cache._serve_this_database();
