#!/usr/bin/python3
"""FraiseQL's PostgresCache protocol against pg_fraiseql_cache, end to end.

The statements below are the ones FraiseQL's PostgresCache sends (extension
detection, setup_table_invalidation, the cascade rule upsert, the
domain_version read, the {"result", "versions", "cached_at"} envelope in an
UNLOGGED table); this script drives them through a small synchronous class and
checks, step by step, that cached results are served while fresh and
recomputed after any write, from any connection.

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
Run with the Debian python (python3-psycopg): /usr/bin/python3 postgres_cache_flow.py
"""

import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

ALL_TENANTS = uuid.UUID(int=0)


class VersionedPgCache:
    """The SQL of FraiseQL's PostgresCache, synchronously."""

    def __init__(self, conn, table_name="fraiseql_cache_pyex"):
        self.conn = conn
        self.table_name = table_name
        self.has_domain_versioning = False
        self.extension_version = None
        self.hits = 0
        self.misses = 0

    def initialize(self):
        with self.conn.cursor() as cur:
            cur.execute(f"""
                CREATE UNLOGGED TABLE IF NOT EXISTS {self.table_name} (
                    cache_key TEXT PRIMARY KEY,
                    cache_value JSONB NOT NULL,
                    expires_at TIMESTAMPTZ NOT NULL
                )""")
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_fraiseql_cache'")
            row = cur.fetchone()
        self.conn.commit()
        self.has_domain_versioning = row is not None
        self.extension_version = row[0] if row else None

    def setup_table_trigger(self, table_name, domain_name=None, tenant_column="tenant_id"):
        with self.conn.cursor() as cur:
            if domain_name:
                cur.execute("SELECT fraiseql_cache.setup_table_invalidation(%s, %s, %s)",
                            (table_name, domain_name, tenant_column))
            else:
                cur.execute("SELECT fraiseql_cache.setup_table_invalidation(%s, NULL, %s)",
                            (table_name, tenant_column))
            message = cur.fetchone()[0]
        self.conn.commit()
        return message

    def register_cascade_rule(self, source_domain, target_domain, rule_type="invalidate"):
        with self.conn.cursor() as cur:
            cur.execute("""
                INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain, rule_type)
                VALUES (%s, %s, %s)
                ON CONFLICT (source_domain, target_domain) DO UPDATE SET rule_type = EXCLUDED.rule_type
                """, (source_domain, target_domain, rule_type))
        self.conn.commit()

    def clear_cascade_rules(self, source_domain=None):
        with self.conn.cursor() as cur:
            if source_domain:
                cur.execute("DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain = %s",
                            (source_domain,))
            else:
                cur.execute("DELETE FROM fraiseql_cache.cascade_rules")
            deleted = cur.rowcount
        self.conn.commit()
        return deleted

    def get_domain_versions(self, tenant_id, domains):
        if not self.has_domain_versioning or not domains:
            return {}
        with self.conn.cursor() as cur:
            cur.execute("""
                SELECT domain, version
                FROM fraiseql_cache.domain_version
                WHERE tenant_id = %s AND domain = ANY(%s)
                """, (tenant_id, list(domains)))
            rows = cur.fetchall()
        self.conn.commit()
        return {domain: version for domain, version in rows}

    def get_with_metadata(self, key):
        with self.conn.cursor() as cur:
            cur.execute(f"""
                SELECT cache_value FROM {self.table_name}
                WHERE cache_key = %s AND expires_at > NOW()
                """, (key,))
            row = cur.fetchone()
        self.conn.commit()
        if row is None:
            return None, None
        value = row[0]
        if isinstance(value, dict) and "result" in value and "versions" in value:
            return value["result"], value["versions"]
        return value, None

    def set(self, key, value, ttl, versions=None):
        if self.has_domain_versioning and versions:
            value = {"result": value, "versions": versions,
                     "cached_at": datetime.now(timezone.utc).isoformat()}
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=ttl)
        with self.conn.cursor() as cur:
            cur.execute(f"""
                INSERT INTO {self.table_name} (cache_key, cache_value, expires_at)
                VALUES (%s, %s, %s)
                ON CONFLICT (cache_key) DO UPDATE SET
                    cache_value = EXCLUDED.cache_value, expires_at = EXCLUDED.expires_at
                """, (key, json.dumps(value), expires_at))
        self.conn.commit()

    def cached(self, key, tenant_id, domains, compute, ttl=300, global_domains=()):
        """The cache protocol: versions first, then the entry, else compute.

        A global domain has one version, stored under the all-tenants id:
        read it there (a read with the tenant's id finds no row, ever).
        """
        tenant_domains = [d for d in domains if d not in global_domains]
        versions = self.get_domain_versions(tenant_id, tenant_domains)
        versions.update(self.get_domain_versions(ALL_TENANTS, [d for d in domains if d in global_domains]))
        result, cached_versions = self.get_with_metadata(key)
        if result is not None and cached_versions == versions:
            self.hits += 1
            return result, True
        self.misses += 1
        result = compute()
        self.set(key, result, ttl, versions)
        return result, False


checks = 0


def check(ok, what):
    global checks
    if not ok:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


def main():
    app = psycopg.connect("")            # the application's connection
    other = psycopg.connect("", autocommit=True)  # "another service" writing
    # PostgresCache reads domain_version: writers wait until their bumps are
    # in the table, not only in shared memory (what current_version() reads).
    for conn in (app, other):
        conn.execute("SET fraiseql_cache.wait_for_bump = persisted")
    app.commit()
    cache = VersionedPgCache(app)

    # --- start-up, as FraiseQL does it --------------------------------------
    cache.initialize()
    check(cache.has_domain_versioning, f"pg_fraiseql_cache {cache.extension_version} detected")

    with app.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS tv_pyex_contract, tv_pyex_item, tb_pyex_currency")
        cur.execute("""CREATE TABLE tv_pyex_contract (
                           id int PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL)""")
        cur.execute("""CREATE TABLE tv_pyex_item (
                           id int PRIMARY KEY, tenant_id uuid NOT NULL, contract_id int, sku text)""")
        cur.execute("CREATE TABLE tb_pyex_currency (code text PRIMARY KEY, rate numeric)")
        cur.execute(f"TRUNCATE {cache.table_name}")
    app.commit()

    # Called at every start: idempotent.
    for _ in range(2):
        print(cache.setup_table_trigger("tv_pyex_contract"))
        print(cache.setup_table_trigger("public.tv_pyex_item"))
        # FraiseQL passes tenant_id for every table; a table without it is global.
        print(cache.setup_table_trigger("tb_pyex_currency"))
    cache.register_cascade_rule("pyex_contract", "pyex_item", "notify")
    cache.register_cascade_rule("pyex_contract", "pyex_item")  # the upsert path
    with app.cursor() as cur:
        cur.execute("""SELECT rule_type FROM fraiseql_cache.cascade_rules
                       WHERE source_domain = 'pyex_contract' AND target_domain = 'pyex_item'""")
        check(cur.fetchone()[0] == "invalidate", "cascade rule upserted (notify -> invalidate)")
    app.commit()

    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    other.execute("""INSERT INTO tv_pyex_contract VALUES (1, %s, 'alpha'), (2, %s, 'beta'), (3, %s, 'gamma')""",
                  (tenant_a, tenant_a, tenant_b))
    other.execute("INSERT INTO tv_pyex_item VALUES (1, %s, 1, 'sku-1'), (2, %s, 3, 'sku-2')",
                  (tenant_a, tenant_b))
    other.execute("INSERT INTO tb_pyex_currency VALUES ('EUR', 1), ('USD', 1.08)")

    def contracts(tenant):
        with app.cursor() as cur:
            cur.execute("SELECT name FROM tv_pyex_contract WHERE tenant_id = %s ORDER BY id", (tenant,))
            rows = [r[0] for r in cur.fetchall()]
        app.commit()
        return rows

    def items(tenant):
        with app.cursor() as cur:
            cur.execute("SELECT sku FROM tv_pyex_item WHERE tenant_id = %s ORDER BY id", (tenant,))
            rows = [r[0] for r in cur.fetchall()]
        app.commit()
        return rows

    def rates():
        with app.cursor() as cur:
            cur.execute("SELECT code, rate::text FROM tb_pyex_currency ORDER BY code")
            rows = [list(r) for r in cur.fetchall()]
        app.commit()
        return rows

    def contract_list(tenant):
        return cache.cached(f"{tenant}:contracts", tenant, ["pyex_contract"], lambda: contracts(tenant))

    def item_list(tenant):
        return cache.cached(f"{tenant}:items", tenant, ["pyex_item"], lambda: items(tenant))

    # --- hits while fresh ----------------------------------------------------
    value, hit = contract_list(tenant_a)
    check(not hit and value == ["alpha", "beta"], "first read computes the list")
    value, hit = contract_list(tenant_a)
    check(hit and value == ["alpha", "beta"], "second read is a hit")
    with app.cursor() as cur:
        cur.execute(f"SELECT cache_value FROM {cache.table_name} WHERE cache_key = %s",
                    (f"{tenant_a}:contracts",))
        envelope = cur.fetchone()[0]
    app.commit()
    check(set(envelope) == {"result", "versions", "cached_at"} and "pyex_contract" in envelope["versions"],
          f"stored as an envelope with its versions: {envelope['versions']}")
    value, hit = contract_list(tenant_b)
    check(not hit and value == ["gamma"], "another tenant has its own entry")
    item_list(tenant_a)
    item_list(tenant_b)
    check(item_list(tenant_a)[1] and item_list(tenant_b)[1], "item lists cached")

    # --- a write from another connection -------------------------------------
    other.execute("UPDATE tv_pyex_contract SET name = 'alpha v2' WHERE id = 1")
    # COMMIT has returned (autocommit; wait_for_bump = persisted): the new
    # version is already in domain_version.
    value, hit = contract_list(tenant_a)
    check(not hit and value == ["alpha v2", "beta"], "after the update: a miss with fresh data")
    value, hit = contract_list(tenant_a)
    check(hit and value == ["alpha v2", "beta"], "then a hit again")
    value, hit = contract_list(tenant_b)
    check(hit and value == ["gamma"], "tenant B's entry survived tenant A's write")

    # --- cascade: contract -> item ---------------------------------------------
    value, hit = item_list(tenant_a)
    check(not hit, "the contract write also invalidated tenant A's items (cascade)")
    value, hit = item_list(tenant_b)
    check(hit, "tenant B's items were not touched")

    # --- one bump per transaction --------------------------------------------
    before = cache.get_domain_versions(tenant_a, ["pyex_contract"])["pyex_contract"]
    with other.transaction():
        for i in range(100):
            other.execute("INSERT INTO tv_pyex_contract VALUES (%s, %s, %s)", (100 + i, tenant_a, f"bulk {i}"))
    after = cache.get_domain_versions(tenant_a, ["pyex_contract"])["pyex_contract"]
    check(after == before + 1, f"100 inserts in one transaction: version {before} -> {after}")

    # --- a global domain -------------------------------------------------------
    # Its one version lives under the all-tenants id: a read with a tenant's
    # id finds no row before or after any write (the entry would never be
    # invalidated). Read global domains with the all-tenants id.
    check(cache.get_domain_versions(tenant_a, ["pyex_currency"]) == {},
          "a global domain has no per-tenant row (read it under the all-tenants id)")
    g = ("pyex_currency",)
    value, hit = cache.cached(f"{tenant_a}:rates", tenant_a, ["pyex_currency"], rates, global_domains=g)
    value, hit = cache.cached(f"{tenant_a}:rates", tenant_a, ["pyex_currency"], rates, global_domains=g)
    check(hit, "global rates cached")
    other.execute("UPDATE tb_pyex_currency SET rate = 1.09 WHERE code = 'USD'")
    value, hit = cache.cached(f"{tenant_a}:rates", tenant_a, ["pyex_currency"], rates, global_domains=g)
    check(not hit and ["USD", "1.09"] in value, "a global write invalidates every tenant's entry")

    # --- clean up ----------------------------------------------------------------
    check(cache.clear_cascade_rules("pyex_contract") == 1, "cascade rules cleared")
    for t in ("tv_pyex_contract", "tv_pyex_item", "tb_pyex_currency"):
        app.execute("SELECT fraiseql_cache.remove_table_invalidation(%s)", (t,))
    app.execute(f"DROP TABLE tv_pyex_contract, tv_pyex_item, tb_pyex_currency, {cache.table_name}")
    app.commit()
    print(f"fraiseql-python: {checks} checks passed ({cache.hits} hits, {cache.misses} misses)")


if __name__ == "__main__":
    main()
