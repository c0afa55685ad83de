#!/usr/bin/python3
"""Shared memory per tracked (tenant, domain) pair, for the running server.

From sizes: a version-table slot is 40 bytes (include/pg_fraiseql_cache/
version_table.hpp: state, domain id, tenant uuid, version, last_modified) and
the table has the power of two >= 2 * max_entries slots (load factor <= 1/2),
so a pair costs 80 bytes of version table when max_entries is a power of two.
The whole segment (pg_shmem_allocations 'fraiseql_cache': the version table,
the commit ring of ring_size slots, the domain dictionary, the recent-bumps
ring, counters) holds one such slot per served database
(fraiseql_cache.max_databases, each with its own max_entries): divided by
max_databases × max_entries it is the all-in cost per pair at capacity.
Prints one table row for the server's current settings.
"""

import argparse
import sys

import common as c

SLOT_BYTES = 40


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", default="defaults")
    p.add_argument("--header", action="store_true", help="print the heading and table header")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()
    conn = c.connect("shmem")
    size, allocated = conn.execute(
        "SELECT size, allocated_size FROM pg_shmem_allocations WHERE name = 'fraiseql_cache'"
    ).fetchone()
    max_entries = int(conn.execute("SHOW fraiseql_cache.max_entries").fetchone()[0])
    ring_size = int(conn.execute("SHOW fraiseql_cache.ring_size").fetchone()[0])
    # One slot of shared memory per served database (1 before there were several).
    dbs = conn.execute("SELECT setting FROM pg_settings "
                       "WHERE name = 'fraiseql_cache.max_databases'").fetchone()
    max_databases = int(dbs[0]) if dbs else 1
    slots = 2
    while slots < 2 * max_entries:
        slots <<= 1
    table_bytes = max_databases * slots * SLOT_BYTES
    pairs = max_databases * max_entries
    per_pair_table = table_bytes / pairs
    per_pair_total = size / pairs
    rest = size - table_bytes
    if args.header:
        print("## Shared memory per pair\n")
        print("Version-table slot = 40 bytes, slots = the power of two ≥ 2 × max_entries; "
              "segment = `SELECT size FROM pg_shmem_allocations WHERE name = 'fraiseql_cache'` "
              "(version table + commit ring of ring_size slots + domain dictionary "
              "+ recent-bumps ring + counters, once per served database: "
              "fraiseql_cache.max_databases).\n")
        print(c.table(["configuration", "max_databases", "max_entries", "ring_size",
                       "version table bytes", "bytes/pair (table)", "segment bytes",
                       "bytes/pair (segment ÷ (max_databases × max_entries))",
                       "rest of segment (ring, dictionary, …) bytes"], []))
    print(f"| {args.label} | {max_databases} | {max_entries:,} | {ring_size:,} | {table_bytes:,} | "
          f"{per_pair_table:.1f} | {size:,} | {per_pair_total:.1f} | "
          f"{rest:,} |")
    c.write_json(args.json, {"max_entries": max_entries, "ring_size": ring_size,
                             "max_databases": max_databases,
                             "table_bytes": table_bytes, "per_pair_table": per_pair_table,
                             "segment_bytes": size, "per_pair_segment": per_pair_total})


if __name__ == "__main__":
    sys.exit(main())
