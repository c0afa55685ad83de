'use strict';
// The queries of the protocol. Versions come back as text and are parsed
// with parseVersion(): a bigint is never rounded through a float.

const { parseVersion } = require('./types');

// current_versions(tenant, domains), in the order of `domains`.
async function queryCurrentVersions(db, tenant, domains) {
  if (domains.length === 0) return [];
  const r = await db.query(
    `SELECT v::text AS v FROM unnest(fraiseql_cache.current_versions($1::uuid, $2::text[]))
       WITH ORDINALITY AS u(v, n) ORDER BY n`, [tenant, domains]);
  if (r.rows.length !== domains.length) {
    throw new Error(`current_versions() returned ${r.rows.length} versions for ${domains.length} domains`);
  }
  return r.rows.map((row) => parseVersion(row.v));
}

// Each domain's version for the tenant, and whether the domain is global.
async function queryDomains(db, tenant, domains) {
  if (domains.length === 0) return [];
  const r = await db.query(
    `SELECT x.v::text AS v,
            EXISTS (SELECT 1 FROM fraiseql_cache.tracked_tables t
                     WHERE t.domain = u.d AND t.tenant_column IS NULL) AS g
       FROM unnest($2::text[]) WITH ORDINALITY AS u(d, n)
       JOIN unnest(fraiseql_cache.current_versions($1::uuid, $2::text[])) WITH ORDINALITY AS x(v, n)
         ON x.n = u.n
      ORDER BY u.n`, [tenant, domains]);
  if (r.rows.length !== domains.length) {
    throw new Error(`version query returned ${r.rows.length} rows for ${domains.length} domains`);
  }
  return r.rows.map((row) => ({ version: parseVersion(row.v), global: row.g === true }));
}

// The reload after LISTEN: every held pair (one current_versions() per
// tenant) and the global domains, in one round trip.
async function queryLoad(db, pairs) {
  const r = await db.query(
    `WITH p AS (SELECT t, d, n FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(t, d, n)),
          g AS (SELECT t, array_agg(d ORDER BY n) AS ds, array_agg(n ORDER BY n) AS ns FROM p GROUP BY t)
     SELECT x.n::int AS n, x.v::text AS v, NULL::text AS g
       FROM g, LATERAL unnest(g.ns, fraiseql_cache.current_versions(g.t, g.ds)) AS x(n, v)
     UNION ALL
     SELECT NULL, NULL, domain FROM fraiseql_cache.tracked_tables
      WHERE tenant_column IS NULL GROUP BY domain`,
    [pairs.map((p) => p.tenant), pairs.map((p) => p.domain)]);
  const versions = new Array(pairs.length).fill(undefined);
  const globals = [];
  let seen = 0;
  for (const row of r.rows) {
    if (row.n === null) {
      globals.push(row.g);
      continue;
    }
    if (!(row.n >= 1 && row.n <= pairs.length)) throw new Error('version load returned an unexpected row');
    versions[row.n - 1] = parseVersion(row.v);
    seen++;
  }
  if (seen !== pairs.length) throw new Error(`version load returned ${seen} rows for ${pairs.length} pairs`);
  return { versions, globals };
}

// The server's channel and heartbeat interval (ms), as this session sees them.
async function queryServerSettings(db) {
  const r = await db.query(
    `SELECT name, setting FROM pg_settings
      WHERE name IN ('fraiseql_cache.notify_channel', 'fraiseql_cache.heartbeat_ms')`);
  const out = { channel: null, heartbeatMs: null };
  for (const row of r.rows) {
    if (row.name === 'fraiseql_cache.notify_channel') out.channel = row.setting;
    else out.heartbeatMs = Number(row.setting);
  }
  return out;
}

const quoteIdent = (name) => `"${String(name).replace(/"/g, '""')}"`;

module.exports = { queryCurrentVersions, queryDomains, queryLoad, queryServerSettings, quoteIdent };
