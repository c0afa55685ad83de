'use strict';
// VersionWatcher against a real server: local answers, notifications (object
// and array payloads), domain_floor and lsn, unreadable payloads, global
// domains, refresh(), pooler detection, an unreachable server.
const test = require('node:test');
const assert = require('node:assert/strict');
const pg = require('pg');
const { VersionWatcher, VersionedCache, LruStore, ALL_TENANTS } = require('..');
const h = require('./helpers');

let db;
const watchers = [];
function watcher(options = {}) {
  const w = new VersionWatcher({ logger: h.quietLogger(), ...options }).start();
  watchers.push(w);
  return w;
}
const notify = (channel, payload) => db.query('SELECT pg_notify($1, $2)', [channel, payload]);

test.before(async () => {
  db = await h.connect();
  await h.prepare(db);
});

test.after(async () => {
  await Promise.all(watchers.map((w) => w.close()));
  await h.dropTables(db);
  await db.end();
});

test('first read over SQL, then local; a write raises it through NOTIFY', async () => {
  const { table, domain } = await h.makeTable(db, 'basic');
  const [t1, t2] = [h.newUuid(), h.newUuid()];
  const w = watcher();
  assert.ok(await w.waitUntilHealthy(20000), `healthy (${w.health.lastError})`);
  assert.equal(w.health.expectHeartbeats, true, 'the server\'s channel: heartbeats expected');
  assert.deepEqual(await w.versions(t1, [domain]), [await h.serverVersion(db, t1, domain)]);
  assert.equal(w.counters.firstReads, 1);
  await w.versions(t1, [domain]);
  assert.equal(w.counters.localLookups, 1, 'held after the first read');
  const raisedTo = [];
  w.on('update', (u) => { if (u.domain === domain) raisedTo.push(u); });
  await db.query(`INSERT INTO ${table} (id, tenant_id) VALUES (1, $1)`, [t1]);
  const v1 = await h.serverVersion(db, t1, domain);
  await h.waitFor(async () => (await w.versions(t1, [domain]))[0] === v1, 10000, 'the notification');
  assert.ok(raisedTo.some((u) => u.tenant === t1 && u.version === v1));
  assert.deepEqual(await w.versions(t2, [domain]), [await h.serverVersion(db, t2, domain)], 'another tenant: its own version');
  assert.equal(w.counters.sqlFallbacks, 0);
  assert.equal(w.counters.payloadErrors, 0);
  await h.waitFor(() => w.counters.heartbeats > 0, 10000, 'a heartbeat');
  assert.equal(typeof w.health.floor, 'number', 'the heartbeat carries the floor');
});

test('bad arguments are refused with a clear error', async () => {
  const w = watcher();
  await assert.rejects(w.versions('nope', ['d']), /tenant must be a uuid/);
  await assert.rejects(w.versions(h.newUuid(), 'd'), /domains must be an array/);
  await assert.rejects(w.versions(h.newUuid(), ['']), /non-empty string/);
  assert.throws(() => new VersionWatcher({ channel: '' }), /channel/);
  assert.throws(() => new VersionWatcher({ pingMs: -1 }), /pingMs/);
});

test('array payloads from the server (notify_format = array) are applied', async (t) => {
  const { table, domain } = await h.makeTable(db, 'array');
  const tenants = Array.from({ length: 20 }, h.newUuid);
  t.after(async () => {
    await db.query('ALTER SYSTEM RESET fraiseql_cache.notify_format');
    await db.query('SELECT pg_reload_conf()');
  });
  await db.query("ALTER SYSTEM SET fraiseql_cache.notify_format = 'array'");
  await db.query('SELECT pg_reload_conf()');
  const w = watcher();
  assert.ok(await w.waitUntilHealthy(20000));
  for (const tn of tenants) await w.versions(tn, [domain]);
  // A raw listener sees what the worker sends; the worker re-reads its settings asynchronously.
  const raw = await h.connect();
  const payloads = [];
  raw.on('notification', (m) => payloads.push(m.payload));
  await raw.query('LISTEN cache_invalidation');
  let sawArray = false;
  for (let attempt = 0; attempt < 50 && !sawArray; attempt++) {
    const values = tenants.map((tn, i) => `(${attempt * 100 + i}, '${tn}')`).join(',');
    await db.query(`INSERT INTO ${table} (id, tenant_id) VALUES ${values}`);
    await h.sleep(50);
    sawArray = payloads.some((p) => p.startsWith('[') && p.includes(domain));
  }
  await raw.end();
  assert.ok(sawArray, 'the worker sent an array payload');
  for (const tn of tenants) {
    const server = await h.serverVersion(db, tn, domain);
    await h.waitFor(async () => (await w.versions(tn, [domain]))[0] === server, 10000, `tenant ${tn}`);
  }
  assert.equal(w.counters.payloadErrors, 0);
});

test('domain_floor raises every held pair of the domain; lsn is kept; unknown keys ignored', async () => {
  const { domain } = await h.makeTable(db, 'floor');
  const { domain: other } = await h.makeTable(db, 'floor_other');
  const channel = h.privateChannel('floor');
  const w = watcher({ channel });
  assert.ok(await w.waitUntilHealthy(20000));
  const [t1, t2, t3] = [h.newUuid(), h.newUuid(), h.newUuid()];
  for (const tn of [t1, t2]) await w.versions(tn, [domain, other]);
  // Versions start at the server's floor (the clock after a new extension): offsets from it.
  const base = (await w.versions(t1, [domain]))[0];
  await notify(channel, JSON.stringify({ tenant_id: t2, domain, version: base + 500 }));
  await notify(channel, JSON.stringify([
    { tenant_id: ALL_TENANTS, domain, version: base + 1000, domain_floor: base + 300, lsn: '0/16B3748', added_later: { x: [1] } },
  ]));
  await h.waitFor(async () => (await w.versions(t1, [domain]))[0] === base + 300, 10000, 'the floor');
  assert.deepEqual(await w.versions(t2, [domain, other]), [base + 500, await h.serverVersion(db, t2, other)],
    'a higher version stays; another domain is untouched');
  assert.deepEqual(await w.versions(ALL_TENANTS, [domain]), [base + 1000]);
  assert.deepEqual(await w.versions(t3, [domain]), [base + 300], 'a pair first read later: at least the floor');
  assert.equal(w.lsn(ALL_TENANTS, domain), '0/16B3748');
  assert.equal(w.health.lastLsn, '0/16B3748');
  assert.equal(w.counters.payloadErrors, 0);
  assert.ok(w.healthy);
});

test('an unreadable payload: everything is reloaded, nothing guessed', async () => {
  const channel = h.privateChannel('bad');
  const w = watcher({ channel });
  assert.ok(await w.waitUntilHealthy(20000));
  const loads = w.counters.loads;
  await notify(channel, 'not json');
  await h.waitFor(() => w.counters.payloadErrors === 1 && w.counters.loads > loads, 10000, 'the reload');
  assert.match(w.health.lastError, /unreadable notification/);
  assert.ok(await w.waitUntilHealthy(10000));
});

test('a global domain: one version for every tenant, under the all-tenants id', async () => {
  const { table, domain } = await h.makeTable(db, 'global', { global: true });
  const w = watcher();
  assert.ok(await w.waitUntilHealthy(20000));
  const [t1, t2] = [h.newUuid(), h.newUuid()];
  await w.versions(t1, [domain]);
  assert.equal(w.pairKey(t2, domain), `${ALL_TENANTS}|${domain}`);
  await db.query(`INSERT INTO ${table} (id) VALUES (1)`);
  const v = await h.serverVersion(db, ALL_TENANTS, domain);
  assert.ok(v > 0);
  await h.waitFor(async () => (await w.versions(t1, [domain]))[0] === v, 10000, 'the global bump');
  assert.deepEqual(await w.versions(t2, [domain]), [v]);
  assert.equal(w.counters.firstReads, 1, 'the second tenant was answered locally');
});

test('refresh() after an own commit: read-your-writes through the cache', async () => {
  const { table, domain } = await h.makeTable(db, 'ryw');
  const tenant = h.newUuid();
  await db.query(`INSERT INTO ${table} (id, tenant_id, val) VALUES (1, $1, 0)`, [tenant]);
  // A private channel: no notification ever arrives, only refresh() moves the versions.
  const w = watcher({ channel: h.privateChannel('ryw') });
  assert.ok(await w.waitUntilHealthy(20000));
  const cache = new VersionedCache(w, new LruStore(10));
  const read = async () => (await db.query(`SELECT val FROM ${table}`)).rows[0].val;
  for (let i = 1; i <= 5; i++) {
    await db.query(`UPDATE ${table} SET val = $1`, [i]);
    await w.refresh(tenant, [domain]);
    const r = await cache.fetch('v', tenant, [domain], read);
    assert.equal(r.value, i);
    assert.equal(r.outcome, 'miss');
    assert.equal((await cache.fetch('v', tenant, [domain], read)).outcome, 'hit');
  }
});

test('no heartbeat after LISTEN (a transaction pooler): one log line, listenerPooled, SQL answers', async () => {
  const { table, domain } = await h.makeTable(db, 'pooled');
  const channel = h.privateChannel('pooled');
  const logger = h.quietLogger();
  // Heartbeats expected every 100 ms on a channel the server does not use: none arrive.
  const w = watcher({ channel, heartbeatMs: 100, pooledRetryMs: 400, logger });
  await h.waitFor(() => w.health.listenerPooled, 10000, 'pooler detection');
  assert.equal(w.healthy, false);
  assert.equal(logger.lines.length, 1);
  assert.match(logger.lines[0], /pooler.*PgBouncer.*direct connection/);
  const tenant = h.newUuid();
  await db.query(`INSERT INTO ${table} (id, tenant_id) VALUES (1, $1)`, [tenant]);
  const fallbacks = w.counters.sqlFallbacks;
  assert.deepEqual(await w.versions(tenant, [domain]), [await h.serverVersion(db, tenant, domain)]);
  assert.equal(w.counters.sqlFallbacks, fallbacks + 1);
  // The session is replaced; the next one gets no heartbeat either: no second log line.
  await h.waitFor(() => w.counters.connects >= 2 && w.health.listenerPooled && !w.healthy, 10000, 'a second session');
  assert.equal(logger.lines.length, 1);
  // Heartbeats start arriving: trusted again after a reload.
  const beat = setInterval(() => notify(`${channel}_heartbeat`, '{"at": "now", "published": 1}').catch(() => {}), 30);
  try {
    assert.ok(await w.waitUntilHealthy(20000), 'healthy once heartbeats arrive');
    assert.equal(w.health.listenerPooled, false);
  } finally {
    clearInterval(beat);
  }
});

test('an unreachable server: never healthy, nothing cached', async () => {
  const connection = { host: '127.0.0.1', port: 56699, connectionTimeoutMillis: 2000 };
  const w = watcher({ connection, reconnectMaxMs: 200 });
  assert.equal(await w.waitUntilHealthy(500), false);
  await assert.rejects(w.versions(h.newUuid(), ['d']));
  const store = new LruStore(10);
  const r = await new VersionedCache(w, store).fetch('k', h.newUuid(), ['d'], () => 'computed');
  assert.equal(r.outcome, 'uncached');
  assert.equal(r.value, 'computed');
  assert.equal(store.size, 0);
  assert.ok(w.health.lastError);
  assert.ok(w.counters.disconnects >= 1);
});

test('the pool given is used for SQL reads and left open', async () => {
  const pool = new pg.Pool({ max: 2 });
  const w = watcher({ pool });
  assert.ok(await w.waitUntilHealthy(20000));
  await w.versions(h.newUuid(), ['whatever']);
  await w.close();
  assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
  await pool.end();
});

test('heartbeats: a moved floor reloads; a silent stream is not trusted until heard again and reloaded', async () => {
  const channel = h.privateChannel('beats');
  const beat = (floor) => notify(`${channel}_heartbeat`, JSON.stringify({ at: 'now', published: 1, floor }));
  const w = watcher({ channel, heartbeatMs: 100 });
  let beating = setInterval(() => beat(5).catch(() => {}), 30);
  try {
    assert.ok(await w.waitUntilHealthy(20000));
    await h.waitFor(() => w.health.floor === 5, 10000, 'the floor');
    let loads = w.counters.loads;
    clearInterval(beating);
    await beat(6);
    await h.waitFor(() => w.counters.loads > loads && w.health.floor === 6, 10000, 'the reload after the floor moved');
    // Silence: no longer trusted, answers over SQL.
    await h.waitFor(() => !w.healthy, 10000, 'distrust of a silent stream');
    assert.equal(w.health.live, false);
    assert.equal(w.health.listenerPooled, false, 'heartbeats were heard on this session: not a pooler');
    const fallbacks = w.counters.sqlFallbacks;
    await w.versions(h.newUuid(), ['whatever']);
    assert.equal(w.counters.sqlFallbacks, fallbacks + 1);
    loads = w.counters.loads;
    beating = setInterval(() => beat(6).catch(() => {}), 30);
    assert.ok(await w.waitUntilHealthy(20000), 'trusted again');
    assert.ok(w.counters.loads > loads, 'after a reload');
  } finally {
    clearInterval(beating);
  }
});
