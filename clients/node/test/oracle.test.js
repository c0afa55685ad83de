'use strict';
// The stale-read oracle, through the watcher: writers (each on its own
// connection) commit val = val + 1 to one row per tenant; readers in the same
// process follow the cache protocol (VersionWatcher + LRU). A read is stale
// when it returns a value older than a write that had been counted as done
// before the reader asked for the versions.
//
//   with refresh(): a write counts as done once its COMMIT returned AND the
//                   writer called refresh(): zero stale reads, asserted.
//   without:        a write counts as done when its COMMIT returned; a hit can
//                   lag it by the notification delay: reported, and computed
//                   values (misses) are never stale, asserted.
const test = require('node:test');
const assert = require('node:assert/strict');
const pg = require('pg');
const { VersionWatcher, VersionedCache, LruStore } = require('..');
const h = require('./helpers');

let db;
let pool;
test.before(async () => {
  db = await h.connect();
  await h.prepare(db);
  pool = new pg.Pool({ max: 8 });
});
test.after(async () => {
  await h.dropTables(db);
  await pool.end();
  await db.end();
});

async function runOracle({ refresh, tenants = 4, writers = 3, writesEach = 80, readers = 6 }) {
  const { table, domain } = await h.makeTable(db, refresh ? 'oracle_r' : 'oracle_n');
  const ids = Array.from({ length: tenants }, h.newUuid);
  for (let i = 0; i < tenants; i++) await db.query(`INSERT INTO ${table} (id, tenant_id, val) VALUES ($1, $2, 0)`, [i, ids[i]]);
  const watcher = new VersionWatcher({ pool }).start();
  assert.ok(await watcher.waitUntilHealthy(20000), `healthy (${watcher.health.lastError})`);
  const cache = new VersionedCache(watcher, new LruStore(64), { name: 'oracle' });
  const done = new Map(ids.map((t) => [t, { val: 0, at: 0 }]));
  const res = { writes: 0, lookups: 0, hits: 0, misses: 0, staleHits: 0, staleMisses: 0, worstStaleMs: 0 };
  let writing = true;

  const writer = async () => {
    const c = await h.connect();
    try {
      for (let i = 0; i < writesEach; i++) {
        const tenant = ids[Math.floor(Math.random() * ids.length)];
        const r = await c.query(`UPDATE ${table} SET val = val + 1 WHERE tenant_id = $1 RETURNING val`, [tenant]);
        if (refresh) await watcher.refresh(tenant, [domain]);
        const d = done.get(tenant);
        if (r.rows[0].val > d.val) done.set(tenant, { val: r.rows[0].val, at: performance.now() });
        res.writes++;
      }
    } finally {
      await c.end();
    }
  };
  const reader = async () => {
    while (writing) {
      const tenant = ids[Math.floor(Math.random() * ids.length)];
      const floor = done.get(tenant);
      const r = await cache.fetch('row', tenant, [domain], async () =>
        (await pool.query(`SELECT val FROM ${table} WHERE tenant_id = $1`, [tenant])).rows[0].val);
      res.lookups++;
      if (r.outcome === 'hit') res.hits++;
      else res.misses++;
      await new Promise(setImmediate); // let I/O (notifications, writers) run between reads
      if (r.value < floor.val) {
        if (r.outcome === 'hit') res.staleHits++;
        else res.staleMisses++;
        res.worstStaleMs = Math.max(res.worstStaleMs, performance.now() - floor.at);
      }
    }
  };
  const readersDone = Promise.all(Array.from({ length: readers }, reader));
  await Promise.all(Array.from({ length: writers }, writer));
  writing = false;
  await readersDone;
  await watcher.close();
  const pct = res.hits ? ((100 * res.staleHits) / res.hits).toFixed(2) : '0.00';
  console.log(`[ oracle ${refresh ? 'with refresh()' : 'without refresh()'} ] ${res.writes} writes, ${res.lookups} lookups, ` +
    `${res.hits} hits, ${res.misses} misses, ${res.staleHits} stale hits (${pct}% of hits), ${res.staleMisses} stale misses, ` +
    `worst staleness ${res.worstStaleMs.toFixed(3)} ms; watcher: ${watcher.counters.localLookups} local answers, ` +
    `${watcher.counters.notifications} notifications`);
  return res;
}

test('oracle with refresh() after each own commit: zero stale reads', async () => {
  const r = await runOracle({ refresh: true });
  assert.equal(r.writes, 240);
  assert.ok(r.hits > 0, 'the cache served hits');
  assert.equal(r.staleHits, 0, 'a hit served a value older than a write refreshed before the read');
  assert.equal(r.staleMisses, 0, 'a computed value was older than a returned commit');
});

test('oracle without refresh(): computed values are never stale; stale hits reported', async () => {
  const r = await runOracle({ refresh: false });
  assert.equal(r.writes, 240);
  assert.equal(r.staleMisses, 0, 'a computed value was older than a returned commit');
  assert.ok(r.worstStaleMs < 5000, `a stale hit outlived any notification delay (${r.worstStaleMs} ms)`);
});
