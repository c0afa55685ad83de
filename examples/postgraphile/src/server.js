'use strict';
// A GraphQL server on PostGraphile whose query responses are cached per
// (query, variables, operation, tenant) and tagged with the versions of the
// cache domains the query reads; an entry is served only while those
// versions are current, and dropped as soon as a NOTIFY says otherwise.
//
//   POST /graphql   {"query", "variables", "operationName"}, header X-Tenant-Id
//                   answers X-Cache: hit | miss | bypass
//   GET  /stats     cache and watcher counters
//
// The tenant's rows are selected by row-level security: every request runs
// as `role` with app.tenant_id set to the X-Tenant-Id header.

const crypto = require('crypto');
const http = require('http');
const pg = require('pg');
const { createPostGraphileSchema, withPostGraphileContext } = require('postgraphile');
const { parse, validate, execute, getOperationAST } = require('graphql');
const { VersionWatcher } = require('@fraiseql/pg-cache-client');
const { ResponseCache } = require('./response_cache');
const { makeTableTypesPlugin, operationDomains } = require('./query_domains');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function loadTracked(pool) {
  const r = await pool.query('SELECT table_schema, table_name, domain FROM fraiseql_cache.tracked_tables');
  return new Map(r.rows.map((row) => [`${row.table_schema}.${row.table_name}`, row.domain]));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > 1e6) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body);
}

// options: { schemas: ['app'], role, port, channel, cacheSize, pgConfig, watcher: {...} }
async function createServer(options) {
  const pool = new pg.Pool({ ...(options.pgConfig || {}), max: 10 });
  const typeTables = new Map();
  const schema = await createPostGraphileSchema(pool, options.schemas, {
    appendPlugins: [makeTableTypesPlugin(typeTables)],
    dynamicJson: true,
  });
  let tracked = await loadTracked(pool);
  // The listener needs a direct connection (not PgBouncer transaction pooling).
  const watcher = new VersionWatcher({ pool, connection: options.pgConfig || {},
    channel: options.channel || 'cache_invalidation', ...(options.watcher || {}) });
  const cache = new ResponseCache(options.cacheSize || 1000);
  // Dropped on NOTIFY (and on a reload that raised a version).
  watcher.on('update', (u) => cache.dropPair(u.key));
  watcher.start();

  async function run(document, variables, operationName, tenant) {
    return withPostGraphileContext(
      { pgPool: pool, pgSettings: { ...(options.role ? { role: options.role } : {}), 'app.tenant_id': tenant } },
      (context) => execute({ schema, document, variableValues: variables, contextValue: context, operationName }));
  }

  async function graphqlRequest(req, res) {
    const tenant = String(req.headers['x-tenant-id'] || '').toLowerCase();
    if (!UUID.test(tenant)) return send(res, 400, '{"errors":[{"message":"X-Tenant-Id: a uuid is required"}]}');
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      return send(res, 400, '{"errors":[{"message":"the body must be JSON"}]}');
    }
    const { query, variables = {}, operationName = null } = body;
    let document;
    try {
      document = parse(String(query));
    } catch (e) {
      return send(res, 400, JSON.stringify({ errors: [{ message: e.message }] }));
    }
    const errors = validate(schema, document);
    if (errors.length) return send(res, 400, JSON.stringify({ errors: errors.map((e) => ({ message: e.message })) }));
    const op = getOperationAST(document, operationName);
    if (!op) return send(res, 400, '{"errors":[{"message":"unknown operation"}]}');
    const { domains, cacheable } = operationDomains(schema, document, typeTables, tracked);

    if (op.operation !== 'query' || !cacheable || domains.length === 0) {
      cache.stats.bypass++;
      const result = await run(document, variables, operationName, tenant);
      // Our own write: hold its versions now (read-your-writes on this server).
      if (op.operation === 'mutation' && domains.length) await watcher.refresh(tenant, domains);
      return send(res, 200, JSON.stringify(result), { 'X-Cache': 'bypass' });
    }

    // The cache protocol: versions first (local, no round trip), then the entry.
    let versions;
    try {
      versions = await watcher.versions(tenant, domains);
    } catch (e) {
      cache.stats.bypass++;
      const result = await run(document, variables, operationName, tenant);
      return send(res, 200, JSON.stringify(result), { 'X-Cache': 'bypass' });
    }
    const key = crypto.createHash('sha256')
      .update(JSON.stringify([tenant, query, variables, operationName])).digest('hex');
    const cached = cache.lookup(key, versions);
    const tag = { 'X-Cache-Domains': domains.join(','), 'X-Cache-Versions': versions.join(',') };
    if (cached !== undefined) return send(res, 200, cached, { 'X-Cache': 'hit', ...tag });
    const result = await run(document, variables, operationName, tenant);
    const out = JSON.stringify(result);
    if (!result.errors) {
      cache.store(key, versions, domains.map((d) => watcher.pairKey(tenant, d)), out);
    }
    return send(res, 200, out, { 'X-Cache': 'miss', ...tag });
  }

  const server = http.createServer((req, res) => {
    const handle = async () => {
      if (req.method === 'POST' && req.url === '/graphql') return graphqlRequest(req, res);
      if (req.method === 'GET' && req.url === '/stats') {
        return send(res, 200, JSON.stringify({ health: watcher.health, entries: cache.size,
          cache: cache.stats, watcher: watcher.counters }));
      }
      return send(res, 404, '{"errors":[{"message":"not found"}]}');
    };
    handle().catch((e) => send(res, 500, JSON.stringify({ errors: [{ message: e.message }] })));
  });
  await new Promise((resolve) => server.listen(options.port || 0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    watcher,
    cache,
    // Call after setup_table_invalidation() of new tables.
    async reloadTracked() { tracked = await loadTracked(pool); },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await watcher.close();
      await pool.end();
    },
  };
}

module.exports = { createServer };
