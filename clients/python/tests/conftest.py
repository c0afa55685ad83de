"""Fixtures: a real server (libpq environment: PGHOST, PGPORT, PGUSER,
PGDATABASE, with pg_fraiseql_cache created) and a real Redis
(FRAISEQL_REDIS_URL). Every test gets its own tables, dropped afterwards."""

import os
import uuid

import psycopg
import pytest


def pytest_configure(config):
    missing = [v for v in ("PGHOST", "PGPORT", "PGDATABASE", "FRAISEQL_REDIS_URL")
               if not os.environ.get(v)]
    if missing:
        raise pytest.UsageError(
            f"set {', '.join(missing)} (scripts/test_python.sh does) to run these tests")


@pytest.fixture
def admin():
    with psycopg.connect("", autocommit=True) as conn:
        yield conn


class Schema:
    """tv_<p>_contract, tv_<p>_item (tenant tables) and tb_<p>_currency (global)."""

    def __init__(self, conn):
        self.conn = conn
        self.p = "pyc_" + uuid.uuid4().hex[:8]
        self.contract, self.item, self.currency = (
            f"{self.p}_contract", f"{self.p}_item", f"{self.p}_currency")
        self.tables = [f"tv_{self.contract}", f"tv_{self.item}", f"tb_{self.currency}"]
        conn.execute(f"CREATE TABLE tv_{self.contract} (id int PRIMARY KEY, tenant_id uuid, "
                     "val int NOT NULL DEFAULT 0)")
        conn.execute(f"CREATE TABLE tv_{self.item} (id int PRIMARY KEY, tenant_id uuid, sku text)")
        conn.execute(f"CREATE TABLE tb_{self.currency} (code text PRIMARY KEY, rate numeric)")

    def track(self):
        for t in self.tables:
            self.conn.execute("SELECT fraiseql_cache.setup_table_invalidation(%s)", (t,))
        return self

    def version(self, tenant, domain):
        return self.conn.execute("SELECT fraiseql_cache.current_version(%s, %s)",
                                 (tenant, domain)).fetchone()[0]

    def drop(self):
        self.conn.execute("DELETE FROM fraiseql_cache.cascade_rules WHERE source_domain LIKE %s",
                          (self.p + "%",))
        for t in self.tables:
            self.conn.execute(f"DROP TABLE IF EXISTS {t}")


@pytest.fixture
def schema(admin):
    s = Schema(admin)
    try:
        yield s.track()
    finally:
        s.drop()


@pytest.fixture
def redis_url():
    return os.environ["FRAISEQL_REDIS_URL"]


def new_tenant():
    return str(uuid.uuid4())
