"""PostgreSQL nodes for the standby tests: initdb, base backups, start, stop,
promotion and WAL-position waits, in the manner of PostgreSQL's own
src/test/perl/PostgreSQL/Test/Cluster.pm.

Every server runs as the `postgres` user (PostgreSQL refuses root) from the
binaries of `pg_config --bindir`, in a directory under the run's base
directory, on a loopback port given by the caller. Every started node is
remembered so that stop_all() can stop it whatever happened.
"""
import os
import shutil
import subprocess
import time

import psycopg

ALL_TENANTS = "00000000-0000-0000-0000-000000000000"
DB = "fraiseql_standby"
TABLE_SQL = """
CREATE TABLE tv_contract (
    id int PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    seq bigint NOT NULL DEFAULT 0   -- per-tenant write counter: the data's freshness
);
"""

_started = []


class TestFailure(Exception):
    """A test's setup could not be completed."""


def _as_postgres(args):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + list(args)
    return list(args)


def chown_postgres(path):
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


class Node:
    def __init__(self, name, base, port, bindir):
        self.name = name
        self.port = port
        self.bindir = bindir
        self.dir = os.path.join(base, name)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")

    # --- running commands -------------------------------------------------
    def run(self, prog, *args, check=True, timeout=120):
        cmd = _as_postgres([os.path.join(self.bindir, prog)] + list(args))
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise TestFailure(f"{self.name}: {prog} {' '.join(args)} failed "
                              f"(exit {res.returncode}): {res.stderr.strip()[-800:]}")
        return res

    def _mkdir(self):
        if os.path.exists(self.dir):
            raise TestFailure(f"{self.dir} already exists")
        os.makedirs(self.dir)
        chown_postgres(self.dir)

    def append_conf(self, text, file="postgresql.conf"):
        path = os.path.join(self.data, file)
        with open(path, "a") as f:
            f.write("\n" + text.strip() + "\n")

    def _node_conf(self):
        return (f"port = {self.port}\n"
                f"listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n")

    # --- creating -------------------------------------------------------------
    def init(self, extra_conf=""):
        """initdb, configured as a primary with the extension preloaded."""
        self._mkdir()
        self.run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8")
        self.append_conf(f"""
# pg_fraiseql_cache standby tests
shared_preload_libraries = 'pg_fraiseql_cache'
fraiseql_cache.database = '{DB}'
wal_level = replica
hot_standby = on
max_wal_senders = 8
max_replication_slots = 8
wal_keep_size = '256MB'
max_connections = 50
log_line_prefix = '%m [%p] %b '
{self._node_conf()}
{extra_conf}
""")

    def init_from_backup(self, source, extra_conf="", standby=True,
                         application_name=None, slot=None):
        """pg_basebackup -R -X stream from a running `source` into this node."""
        self._mkdir()
        args = ["-h", source.dir, "-p", str(source.port), "-U", "postgres",
                "-D", self.data, "-X", "stream", "-c", "fast"]
        if standby:
            args.append("-R")
        if slot:
            args += ["-S", slot]
        self.run("pg_basebackup", *args, timeout=300)
        self.append_conf(self._node_conf() + extra_conf)
        if standby and application_name:
            # After -R's line in postgresql.auto.conf, which is read last.
            self.append_conf(f"primary_conninfo = 'host={source.dir} port={source.port} "
                             f"user=postgres application_name={application_name}'",
                             file="postgresql.auto.conf")

    def init_from_files(self, backup_dir, extra_conf=""):
        """A node whose data directory is a copy of a plain base backup."""
        self._mkdir()
        subprocess.run(["cp", "-a", backup_dir, self.data], check=True)
        self.append_conf(self._node_conf() + extra_conf)

    # --- running ----------------------------------------------------------------
    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120", "start",
                 timeout=180)
        if self not in _started:
            _started.append(self)

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "120", "stop",
                 timeout=180)
        if self in _started:
            _started.remove(self)

    def is_running(self):
        return self.run("pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def promote(self):
        self.run("pg_ctl", "-D", self.data, "-w", "-t", "120", "promote", timeout=180)
        self.poll_query("SELECT NOT pg_is_in_recovery()", timeout=60)

    def conninfo(self, dbname=DB):
        return f"host={self.dir} port={self.port} user=postgres dbname={dbname}"

    def connect(self, dbname=DB, **kw):
        return psycopg.connect(self.conninfo(dbname), autocommit=True, **kw)

    def query(self, sql, params=None, dbname=DB):
        with self.connect(dbname) as c:
            cur = c.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, sql, params=None, dbname=DB):
        rows = self.query(sql, params, dbname)
        return rows[0][0] if rows else None

    def poll_query(self, sql, params=None, timeout=60, dbname=DB):
        """Waits until `sql` returns true (as PostgreSQL's poll_query_until)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                if self.scalar(sql, params, dbname):
                    return
            except psycopg.Error as e:
                last = e
            time.sleep(0.05)
        raise TestFailure(f"{self.name}: timed out waiting for: {sql} (last error: {last})")

    def wait_serving(self, timeout=60):
        """Waits until current_version() answers (SQLSTATE 55000 means 'not yet')."""
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        last = None
        while time.monotonic() < deadline:
            try:
                self.scalar("SELECT fraiseql_cache.current_version(%s, 'contract')",
                            (ALL_TENANTS,))
                return time.monotonic() - start
            except psycopg.Error as e:
                if e.sqlstate not in ("55000", "57P03", None):
                    raise
                last = e
            time.sleep(0.05)
        raise TestFailure(f"{self.name}: the extension is not serving after {timeout}s: {last}")

    # --- WAL positions -----------------------------------------------------------
    def flushed_lsn(self):
        """An LSN past every record written so far, flushed: a transaction with
        an xid and a synchronous commit flushes the WAL up to its own commit."""
        with self.connect() as c:
            c.execute("SET synchronous_commit = local")
            c.execute("SELECT pg_catalog.txid_current()")
            return c.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

    def replay_lsn(self):
        return self.scalar("SELECT pg_last_wal_replay_lsn()::text")

    def wait_for_replay(self, lsn, timeout=60):
        self.poll_query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,), timeout)


def create_schema(primary, tenants, rows_per_tenant=2):
    """The database, the extension, a tracked table with rows for each tenant."""
    primary.run("createdb", "-h", primary.dir, "-p", str(primary.port), "-U", "postgres", DB)
    with primary.connect() as c:
        c.execute("CREATE EXTENSION pg_fraiseql_cache")
        c.execute(TABLE_SQL)
        c.execute("SELECT fraiseql_cache.setup_table_invalidation('tv_contract')")
        n = 0
        for t in tenants:
            for _ in range(rows_per_tenant):
                n += 1
                c.execute("INSERT INTO tv_contract (id, tenant_id, name) VALUES (%s, %s, %s)",
                          (n, t, f"contract {n}"))
    primary.wait_serving()


def stop_all():
    """Stops every node still running (immediately: this is the cleanup path)."""
    for node in list(_started):
        try:
            node.run("pg_ctl", "-D", node.data, "-m", "immediate", "-w", "stop",
                     check=False, timeout=60)
        except Exception:
            pass
        _started.remove(node)
