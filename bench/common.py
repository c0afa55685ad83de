"""Shared helpers of the SQL-level benchmark drivers (bench/*.py).

Connections use the standard PG* environment variables; the database must be
the one pg_fraiseql_cache's worker serves (fraiseql_cache.database). Every
driver prints a Markdown section on stdout and, with --json FILE, writes its
headline figures for bench/report.py (the targets table).
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import psycopg
except ImportError:  # pragma: no cover
    sys.exit("the benchmark drivers need psycopg 3: apt-get install python3-psycopg, "
             "and run them with /usr/bin/python3")

# Variants of the write-path benchmarks.
VARIANTS = {
    "none": "no trigger",
    "noop": "noop C trigger",
    "fraiseql": "pg_fraiseql_cache",
    "fraiseql_nowait": "pg_fraiseql_cache, wait_for_bump=off",
    "naive": "plpgsql naive",
    "tracker": "plpgsql statement tracker",
}
NOWAIT_OPTIONS = "-c fraiseql_cache.wait_for_bump=off"


def connect(name, options="", autocommit=True):
    return psycopg.connect(autocommit=autocommit, options=options,
                           application_name=f"bench:{name}")


def prepare_extensions(admin):
    admin.execute("SET client_min_messages = warning")
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache")
    admin.execute("CREATE EXTENSION IF NOT EXISTS fraiseql_bench_noop")


def reset_schema(admin, schema):
    """Drops an earlier run's schema (and its registrations), creates it afresh."""
    admin.execute("DELETE FROM fraiseql_cache.tracked_tables WHERE table_schema = %s", (schema,))
    admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.execute(f"CREATE SCHEMA {schema}")


def baseline_sql(schema):
    """The two PL/pgSQL baselines: version tables and trigger functions in `schema`."""
    return f"""
CREATE TABLE {schema}.version_naive (
    tenant_id     uuid        NOT NULL,
    domain        text        NOT NULL,
    version       bigint      NOT NULL DEFAULT 0,
    last_modified timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, domain)
);
CREATE TABLE {schema}.version_tracker (LIKE {schema}.version_naive INCLUDING ALL);

CREATE UNLOGGED TABLE {schema}.statement_tracker (
    backend_pid int         NOT NULL,
    stmt_ts     timestamptz NOT NULL,
    tenant_id   uuid        NOT NULL,
    domain      text        NOT NULL,
    PRIMARY KEY (backend_pid, stmt_ts, tenant_id, domain)
);

-- (a) naive: every changed row bumps its (tenant, domain).
CREATE FUNCTION {schema}.naive_bump() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO {schema}.version_naive AS v (tenant_id, domain, version)
        VALUES (OLD.tenant_id, TG_ARGV[0], 1)
        ON CONFLICT (tenant_id, domain)
        DO UPDATE SET version = v.version + 1, last_modified = now();
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
        INSERT INTO {schema}.version_naive AS v (tenant_id, domain, version)
        VALUES (NEW.tenant_id, TG_ARGV[0], 1)
        ON CONFLICT (tenant_id, domain)
        DO UPDATE SET version = v.version + 1, last_modified = now();
    END IF;
    RETURN NULL;
END
$fn$;

-- (b) statement tracker: the first row of a statement for a (tenant, domain)
-- wins the unique key and bumps; the others catch unique_violation.
CREATE FUNCTION {schema}.tracker_bump_one(tenant uuid, dom text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    BEGIN
        INSERT INTO {schema}.statement_tracker (backend_pid, stmt_ts, tenant_id, domain)
        VALUES (pg_backend_pid(), statement_timestamp(), tenant, dom);
    EXCEPTION WHEN unique_violation THEN
        RETURN;
    END;
    INSERT INTO {schema}.version_tracker AS v (tenant_id, domain, version)
    VALUES (tenant, dom, 1)
    ON CONFLICT (tenant_id, domain)
    DO UPDATE SET version = v.version + 1, last_modified = now();
END
$fn$;

CREATE FUNCTION {schema}.tracker_bump() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM {schema}.tracker_bump_one(OLD.tenant_id, TG_ARGV[0]);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
        PERFORM {schema}.tracker_bump_one(NEW.tenant_id, TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$fn$;
"""


def attach(conn, schema, variant, table, domain):
    """Puts the variant's trigger on schema.table (domain names the pairs it bumps)."""
    q = f"{schema}.{table}"
    if variant == "noop":
        conn.execute(f"CREATE TRIGGER bench_noop BEFORE INSERT OR UPDATE OR DELETE ON {q} "
                     "FOR EACH ROW EXECUTE FUNCTION fraiseql_bench_noop.noop_row()")
    elif variant in ("fraiseql", "fraiseql_nowait"):
        conn.execute("SELECT fraiseql_cache.setup_table_invalidation(%s, %s)", (q, domain))
    elif variant == "naive":
        conn.execute(f"CREATE TRIGGER bench_naive AFTER INSERT OR UPDATE OR DELETE ON {q} "
                     f"FOR EACH ROW EXECUTE FUNCTION {schema}.naive_bump('{domain}')")
    elif variant == "tracker":
        conn.execute(f"CREATE TRIGGER bench_tracker AFTER INSERT OR UPDATE OR DELETE ON {q} "
                     f"FOR EACH ROW EXECUTE FUNCTION {schema}.tracker_bump('{domain}')")
    elif variant != "none":
        raise ValueError(f"unknown variant {variant!r}")


def tenant_uuid(n):
    """A deterministic, valid version-4-shaped uuid for tenant number n."""
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def rotated(items, r):
    """Round r's order: the start rotated each round (drift hits all alike)."""
    k = r % len(items)
    return items[k:] + items[:k]


def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples),
            "max": max(samples), "n": len(samples)}


def num(x, digits=3):
    """A figure with `digits` significant digits, no exponent."""
    if x is None:
        return "–"
    ax = abs(x)
    if ax >= 10 ** digits:
        return f"{x:,.0f}"
    if ax == 0:
        return "0"
    decimals = max(0, digits - 1 - int(f"{ax:e}".split("e")[1]))
    return f"{x:.{decimals}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def table(header, rows, align=None):
    """A Markdown table; align is a string of 'l'/'r' per column."""
    align = align or "l" + "r" * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def write_json(path, data):
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def pgbench_path():
    env = os.environ.get("PGBENCH")
    if env:
        return env
    try:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                check=True).stdout.strip()
        candidate = os.path.join(bindir, "pgbench")
        if os.path.exists(candidate):
            return candidate
    except (OSError, subprocess.CalledProcessError):
        pass
    return shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"


_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.M)
_LAT = re.compile(r"^latency average = ([0-9.]+) ms", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)


def pgbench(script, clients, threads, seconds, prepared=True, options=None, name="bench"):
    """Runs pgbench on a custom script; returns (tps, mean latency ms, failed transactions)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="fc_bench_", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        env = dict(os.environ)
        env["PGAPPNAME"] = f"bench:{name}"
        if options:
            env["PGOPTIONS"] = options
        else:
            env.pop("PGOPTIONS", None)
        cmd = [pgbench_path(), "-n", "-f", path, "-c", str(clients), "-j", str(threads),
               "-T", str(seconds)]
        if prepared:
            cmd += ["-M", "prepared"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise RuntimeError(f"pgbench failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
        m = _TPS.search(p.stdout)
        if not m:
            raise RuntimeError(f"pgbench output without tps:\n{p.stdout}\n{p.stderr}")
        lat = _LAT.search(p.stdout)
        failed = _FAILED.search(p.stdout)
        return (float(m.group(1)), float(lat.group(1)) if lat else None,
                int(failed.group(1)) if failed else 0)
    finally:
        os.unlink(path)


def stats(conn):
    """fraiseql_cache.stats() as a dict."""
    cur = conn.execute("SELECT * FROM fraiseql_cache.stats()")
    row = cur.fetchone()
    return {d.name: v for d, v in zip(cur.description, row)}


def wait_idle(conn, timeout=30.0):
    """Waits until the worker has drained the ring (ring_used = 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stats(conn)["ring_used"] == 0:
            return True
        time.sleep(0.01)
    return False


def server_version(conn):
    return conn.execute("SHOW server_version").fetchone()[0]


def process_cpu_seconds(pid):
    """user + system CPU seconds of a local process (None if unreadable:
    the server runs elsewhere, or as another user without access)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def load_result(d, name):
    """A driver's JSON result in directory d, or None when it is missing."""
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)
