'use strict';
// RedisStore against a real Redis (FRAISEQL_REDIS_URL, or FRAISEQL_REDIS_HOST
// and FRAISEQL_REDIS_PORT, as scripts/test_node.sh provides): entries, the
// entry format, garbage, and two watchers (two processes) sharing entries.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { VersionWatcher, VersionedCache, RedisStore, codecs } = require('..');
const h = require('./helpers');

const url = process.env.FRAISEQL_REDIS_URL ||
  (process.env.FRAISEQL_REDIS_PORT ? `redis://${process.env.FRAISEQL_REDIS_HOST || '127.0.0.1'}:${process.env.FRAISEQL_REDIS_PORT}` : null);

let db;
let store;
const prefix = `fcn_test_${crypto.randomBytes(3).toString('hex')}:`;
test.before(async () => {
  if (!url) throw new Error('no Redis: set FRAISEQL_REDIS_URL (or FRAISEQL_REDIS_HOST and FRAISEQL_REDIS_PORT)');
  db = await h.connect();
  await h.prepare(db);
  store = await RedisStore.connect({ url, prefix, ttlSeconds: 600 });
});
test.after(async () => {
  if (store) await store.close();
  if (db) {
    await h.dropTables(db);
    await db.end();
  }
});

test('entries round-trip, in the shared format, with a TTL; garbage is a miss', async () => {
  const e = { domains: ['contract', 'item'], versions: [3, 9007199254740991], value: '{"a": "é"}' };
  await store.put('k1', e);
  assert.deepEqual(await store.get('k1'), e);
  assert.equal(await store.client.get(`${prefix}k1`), 'FCE1 2\n3 8 contract\n9007199254740991 4 item\n{"a": "é"}');
  const ttl = await store.client.ttl(`${prefix}k1`);
  assert.ok(ttl > 0 && ttl <= 600, `ttl ${ttl}`);
  assert.equal(await store.get('absent'), null);
  await store.client.set(`${prefix}garbage`, 'not an entry');
  assert.equal(await store.get('garbage'), null);
  assert.equal(store.decodeErrors, 1);
  await store.erase('k1');
  assert.equal(await store.get('k1'), null);
  assert.throws(() => new RedisStore({}), /node-redis client/);
});

test('two processes share entries; an entry tagged with versions not heard yet is refused', async () => {
  const { table, domain } = await h.makeTable(db, 'redis');
  const tenant = h.newUuid();
  await db.query(`INSERT INTO ${table} (id, tenant_id, val) VALUES (1, $1, 0)`, [tenant]);
  const wa = new VersionWatcher().start();
  const wb = new VersionWatcher().start();
  // A third one on a channel nobody notifies: it never hears a bump.
  const wdeaf = new VersionWatcher({ channel: h.privateChannel('deaf') }).start();
  const storeB = await RedisStore.connect({ url, prefix });
  try {
    for (const w of [wa, wb, wdeaf]) assert.ok(await w.waitUntilHealthy(20000));
    const a = new VersionedCache(wa, store, { name: 'rows', codec: codecs.json });
    const b = new VersionedCache(wb, storeB, { name: 'rows', codec: codecs.json });
    const deaf = new VersionedCache(wdeaf, storeB, { name: 'rows', codec: codecs.json });
    let computed = 0;
    const read = async () => {
      computed++;
      return (await db.query(`SELECT val FROM ${table}`)).rows[0];
    };
    await deaf.fetch('one', tenant, [domain], read); // the deaf watcher holds the pair now
    assert.equal((await a.fetch('one', tenant, [domain], read)).outcome, 'hit', 'stored by another process');
    assert.equal((await b.fetch('one', tenant, [domain], read)).outcome, 'hit');
    assert.equal(computed, 1);

    await db.query(`UPDATE ${table} SET val = 1`);
    const v = await h.serverVersion(db, tenant, domain);
    for (const w of [wa, wb]) await h.waitFor(async () => (await w.versions(tenant, [domain]))[0] === v, 10000, 'the bump');
    let r = await a.fetch('one', tenant, [domain], read);
    assert.equal(r.outcome, 'miss');
    assert.deepEqual(r.value, { val: 1 });
    r = await b.fetch('one', tenant, [domain], read);
    assert.equal(r.outcome, 'hit');
    assert.deepEqual(r.value, { val: 1 });
    // The deaf process holds the old version: the newer entry is refused, never served.
    r = await deaf.fetch('one', tenant, [domain], read);
    assert.equal(r.outcome, 'miss');
    assert.equal(deaf.counters.refusedStale, 1);
    assert.deepEqual(r.value, { val: 1 }, 'computed now, so fresh whatever its tag');
    console.log(`[ redis ] a: ${JSON.stringify(a.counters)} b: ${JSON.stringify(b.counters)}`);
  } finally {
    await Promise.all([wa.close(), wb.close(), wdeaf.close(), storeB.close()]);
  }
});

test('Redis down: misses computed, counted as store errors, never hits', async () => {
  const down = await RedisStore.connect({ url, prefix });
  await down.client.quit();
  const w = new VersionWatcher({ channel: h.privateChannel('down') }).start();
  try {
    assert.ok(await w.waitUntilHealthy(20000));
    const cache = new VersionedCache(w, down, { codec: codecs.string });
    const tenant = h.newUuid();
    for (let i = 0; i < 2; i++) assert.equal((await cache.fetch('k', tenant, ['d'], () => 'v')).outcome, 'miss');
    assert.equal(cache.counters.storeErrors, 4);
  } finally {
    await w.close();
  }
});
