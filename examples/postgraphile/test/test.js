'use strict';
// End to end: PostGraphile + pg_fraiseql_cache. Needs the served database in
// the libpq environment (PGHOST, PGPORT, PGUSER = a superuser, PGDATABASE).
const assert = require('node:assert/strict');
const pg = require('pg');
const { createServer } = require('../src/server');

const ROLE = 'fraiseql_pgx_app';
const TA = 'aaaaaaaa-3333-4333-8333-000000000001';
const TB = 'bbbbbbbb-3333-4333-8333-000000000002';

const Q_CONTRACTS = 'query Contracts($first: Int) { allTvContracts(first: $first, orderBy: ID_ASC) { nodes { id name } } }';
const Q_NESTED = '{ allTvContracts(orderBy: ID_ASC) { nodes { id name tvItemsByContractId(orderBy: ID_ASC) { nodes { sku } } } } }';

let checks = 0;
function ok(what) {
  checks++;
  console.log(`ok: ${what}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function setup(db) {
  await db.query(`
    SET client_min_messages = warning;
    DROP SCHEMA IF EXISTS pgx_example CASCADE;
    CREATE SCHEMA pgx_example;
    CREATE TABLE pgx_example.tv_contract (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL);
    CREATE TABLE pgx_example.tv_item (id int PRIMARY KEY, tenant_id uuid NOT NULL,
                                      contract_id int REFERENCES pgx_example.tv_contract (id), sku text NOT NULL);
    CREATE INDEX ON pgx_example.tv_item (contract_id);
    ALTER TABLE pgx_example.tv_contract ENABLE ROW LEVEL SECURITY;
    ALTER TABLE pgx_example.tv_item ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_rows ON pgx_example.tv_contract
      USING (tenant_id = current_setting('app.tenant_id', true)::uuid);
    CREATE POLICY tenant_rows ON pgx_example.tv_item
      USING (tenant_id = current_setting('app.tenant_id', true)::uuid);
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} NOLOGIN; END IF;
    END $$;
    GRANT USAGE ON SCHEMA pgx_example TO ${ROLE};
    GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA pgx_example TO ${ROLE};
    SELECT fraiseql_cache.setup_table_invalidation('pgx_example.tv_contract', 'pgx_contract', 'tenant_id');
    SELECT fraiseql_cache.setup_table_invalidation('pgx_example.tv_item', 'pgx_item', 'tenant_id');
    INSERT INTO pgx_example.tv_contract VALUES (1, '${TA}', 'alpha'), (2, '${TA}', 'beta'), (3, '${TB}', 'gamma');
    INSERT INTO pgx_example.tv_item VALUES (1, '${TA}', 1, 'sku-a1'), (2, '${TA}', 1, 'sku-a2'), (3, '${TB}', 3, 'sku-b1');
  `);
}

async function teardown(db) {
  await db.query(`
    SET client_min_messages = warning;
    DROP SCHEMA IF EXISTS pgx_example CASCADE;
    DROP OWNED BY ${ROLE};
    DROP ROLE IF EXISTS ${ROLE};
  `);
}

async function main() {
  const db = new pg.Client();
  await db.connect();
  await setup(db);
  const server = await createServer({ schemas: ['pgx_example'], role: ROLE,
    watcher: { reconnectMinMs: 1500, reconnectMaxMs: 1500 } });
  try {
    const gql = async (tenant, query, variables) => {
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(tenant ? { 'X-Tenant-Id': tenant } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = await res.json();
      return { status: res.status, cache: res.headers.get('x-cache'), domains: res.headers.get('x-cache-domains'), body };
    };
    const names = (r) => r.body.data.allTvContracts.nodes.map((n) => n.name);
    const skus = (r) => r.body.data.allTvContracts.nodes.flatMap((n) => n.tvItemsByContractId.nodes.map((i) => i.sku));

    assert.ok(await server.watcher.waitUntilHealthy(20000), 'watcher healthy');

    // ---- per query, variables and tenant ------------------------------------
    let r = await gql(TA, Q_CONTRACTS, {});
    assert.equal(r.cache, 'miss');
    assert.deepEqual(names(r), ['alpha', 'beta']);
    assert.equal(r.domains, 'pgx_contract');
    r = await gql(TA, Q_CONTRACTS, {});
    assert.equal(r.cache, 'hit');
    assert.deepEqual(names(r), ['alpha', 'beta']);
    ok('same query, same tenant: miss then hit');
    r = await gql(TA, Q_CONTRACTS, { first: 1 });
    assert.equal(r.cache, 'miss');
    assert.deepEqual(names(r), ['alpha']);
    assert.equal((await gql(TA, Q_CONTRACTS, { first: 1 })).cache, 'hit');
    ok('other variables: an entry of their own');
    r = await gql(TB, Q_CONTRACTS, {});
    assert.equal(r.cache, 'miss');
    assert.deepEqual(names(r), ['gamma']);
    ok('other tenant: an entry of its own (rows chosen by row-level security)');

    // ---- nested relation: both domains ----------------------------------------
    r = await gql(TA, Q_NESTED);
    assert.equal(r.cache, 'miss');
    assert.equal(r.domains, 'pgx_contract,pgx_item');
    assert.deepEqual(skus(r), ['sku-a1', 'sku-a2']);
    assert.equal((await gql(TA, Q_NESTED)).cache, 'hit');
    await gql(TB, Q_NESTED);
    assert.equal((await gql(TB, Q_NESTED)).cache, 'hit');
    ok('a nested query depends on both tables\' domains');

    // ---- an update from another connection: dropped on NOTIFY ------------------
    const dropped = server.cache.stats.dropped;
    await db.query("UPDATE pgx_example.tv_item SET sku = 'sku-a1 v2' WHERE id = 1");
    await waitFor(() => server.cache.stats.dropped > dropped, 5000, 'the NOTIFY to drop the entry');
    ok(`the NOTIFY dropped ${server.cache.stats.dropped - dropped} entry`);
    r = await gql(TA, Q_NESTED);
    assert.equal(r.cache, 'miss');
    assert.deepEqual(skus(r), ['sku-a1 v2', 'sku-a2']);
    assert.equal((await gql(TA, Q_CONTRACTS, {})).cache, 'hit', 'the contracts-only entry does not read items');
    assert.equal((await gql(TB, Q_NESTED)).cache, 'hit', 'tenant B is untouched');
    ok('then a miss with fresh data; entries not reading that pair stay');

    // ---- a notification missed while the listener was terminated ---------------
    const pid = server.watcher.listenerPid;
    assert.ok(pid > 0);
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor(() => !server.watcher.healthy, 5000, 'the watcher to notice');
    await db.query("UPDATE pgx_example.tv_contract SET name = 'alpha v2' WHERE id = 1");
    assert.ok(!server.watcher.healthy, 'still reconnecting');
    r = await gql(TA, Q_CONTRACTS, {});
    assert.equal(r.cache, 'miss', 'while reconnecting the versions come from SQL');
    assert.deepEqual(names(r), ['alpha v2', 'beta']);
    assert.ok(await server.watcher.waitUntilHealthy(20000), 'reconnected');
    r = await gql(TA, Q_CONTRACTS, { first: 1 }); // cached before, not asked since
    assert.equal(r.cache, 'miss', 'the reload after LISTEN caught the missed bump');
    assert.deepEqual(names(r), ['alpha v2']);
    ok('a bump missed while the listener was down is never served stale after the reconnect');

    // ---- a mutation through the API: read-your-writes --------------------------
    for (let i = 1; i <= 5; i++) {
      r = await gql(TA, `mutation { updateTvContractById(input: {id: 2, tvContractPatch: {name: "beta r${i}"}}) { tvContract { name } } }`);
      assert.equal(r.cache, 'bypass');
      assert.equal(r.body.data.updateTvContractById.tvContract.name, `beta r${i}`);
      r = await gql(TA, Q_CONTRACTS, {});
      assert.equal(r.cache, 'miss');
      assert.deepEqual(names(r), ['alpha v2', `beta r${i}`]);
    }
    ok('a mutation, then the query on the same server: fresh every time');
    r = await gql(TB, 'mutation { updateTvContractById(input: {id: 1, tvContractPatch: {name: "x"}}) { tvContract { name } } }');
    assert.ok(r.body.errors, 'tenant B cannot update tenant A\'s contract');

    // ---- what is not cached ------------------------------------------------------
    r = await gql(TA, '{ node(nodeId: "query") { nodeId } }');
    assert.equal(r.cache, 'bypass');
    ok('a query reading an interface (Node) bypasses the cache');
    r = await gql(null, Q_CONTRACTS, {});
    assert.equal(r.status, 400);
    ok('no tenant header: refused');

    const stats = await (await fetch(`${server.url}/stats`)).json();
    assert.equal(stats.health.healthy, true);
    assert.equal(stats.health.listenerPooled, false);
    assert.ok(stats.watcher.localLookups > 0, 'cache checks were answered locally');
    ok('/stats: the watcher\'s health and counters');

    const s = server.cache.stats;
    console.log(`postgraphile: ${checks} checks passed (hits ${s.hits}, misses ${s.misses}, ` +
      `refused stale ${s.refusedStale}, dropped on NOTIFY ${s.dropped}, bypass ${s.bypass}; ` +
      `${server.watcher.counters.notifications} notifications, ${server.watcher.counters.connects} listener sessions)`);
  } finally {
    await server.close();
    await teardown(db);
    await db.end();
  }
}

main().catch((e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
