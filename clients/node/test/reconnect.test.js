'use strict';
// The listener terminated with pg_terminate_backend: a bump missed while it
// was down is caught by the reload after LISTEN (never served stale after
// the reconnect), and repeated terminations under concurrent writers and
// readers never serve a stale read (writers refresh() after their commits).
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

const terminate = (pid) => db.query('SELECT pg_terminate_backend($1)', [pid]);

test('a bump missed while the listener was down is never served stale after the reconnect', async () => {
  const { table, domain } = await h.makeTable(db, 'missed');
  const tenants = Array.from({ length: 5 }, h.newUuid);
  for (let i = 0; i < tenants.length; i++) await db.query(`INSERT INTO ${table} (id, tenant_id, val) VALUES ($1, $2, 0)`, [i, tenants[i]]);
  // A slow reconnect: the writes below land while no listener is there.
  const w = new VersionWatcher({ pool, reconnectMinMs: 600, reconnectMaxMs: 600 }).start();
  try {
    assert.ok(await w.waitUntilHealthy(20000));
    const cache = new VersionedCache(w, new LruStore(100));
    const read = (tn) => async () => (await pool.query(`SELECT val FROM ${table} WHERE tenant_id = $1`, [tn])).rows[0].val;
    for (const tn of tenants) {
      await cache.fetch('row', tn, [domain], read(tn));
      assert.equal((await cache.fetch('row', tn, [domain], read(tn))).outcome, 'hit');
    }
    let missedWhileDown = 0;
    for (let round = 1; round <= 3; round++) {
      const pid = w.listenerPid;
      assert.ok(pid > 0);
      const sessions = w.counters.connects;
      await terminate(pid);
      await h.waitFor(() => !w.healthy, 10000, 'the watcher to notice');
      const serverVersions = new Map();
      for (const tn of tenants) {
        await db.query(`UPDATE ${table} SET val = $2 WHERE tenant_id = $1`, [tn, round]);
        serverVersions.set(tn, await h.serverVersion(db, tn, domain));
      }
      if (w.counters.connects === sessions) missedWhileDown++;
      // While reconnecting, answers come from SQL: fresh.
      assert.equal((await cache.fetch('row', tenants[0], [domain], read(tenants[0]))).value, round);
      assert.ok(await w.waitUntilHealthy(20000), 'reconnected');
      assert.notEqual(w.listenerPid, pid);
      for (const tn of tenants) {
        const local = await w.versions(tn, [domain]);
        assert.ok(local[0] >= serverVersions.get(tn), `the reload caught tenant ${tn}'s bump`);
        const r = await cache.fetch('row', tn, [domain], read(tn));
        assert.equal(r.value, round, `never stale after the reconnect (${r.outcome})`);
      }
    }
    console.log(`[ reconnect ] 3 terminations, writes landed while no listener was connected in ${missedWhileDown} of 3 rounds; ` +
      `${w.counters.connects} sessions, ${w.counters.loads} loads, ${w.counters.sqlFallbacks} SQL fallbacks`);
    assert.equal(w.counters.payloadErrors, 0);
  } finally {
    await w.close();
  }
});

test('repeated terminations under concurrent writers and readers: zero stale reads, converged', async () => {
  const { table, domain } = await h.makeTable(db, 'kills');
  const tenants = Array.from({ length: 4 }, h.newUuid);
  for (let i = 0; i < tenants.length; i++) await db.query(`INSERT INTO ${table} (id, tenant_id, val) VALUES ($1, $2, 0)`, [i, tenants[i]]);
  const w = new VersionWatcher({ pool, reconnectMinMs: 50, reconnectMaxMs: 300 }).start();
  assert.ok(await w.waitUntilHealthy(20000));
  const cache = new VersionedCache(w, new LruStore(64));
  const done = new Map(tenants.map((t) => [t, 0]));
  const res = { writes: 0, lookups: 0, hits: 0, stale: 0, kills: 0 };
  let running = true;
  const writer = async () => {
    const c = await h.connect();
    try {
      while (running) {
        const tn = tenants[Math.floor(Math.random() * tenants.length)];
        const r = await c.query(`UPDATE ${table} SET val = val + 1 WHERE tenant_id = $1 RETURNING val`, [tn]);
        await w.refresh(tn, [domain]);
        if (r.rows[0].val > done.get(tn)) done.set(tn, r.rows[0].val);
        res.writes++;
        await h.sleep(2);
      }
    } finally {
      await c.end();
    }
  };
  const reader = async () => {
    while (running) {
      const tn = tenants[Math.floor(Math.random() * tenants.length)];
      const floor = done.get(tn);
      const r = await cache.fetch('row', tn, [domain], async () =>
        (await pool.query(`SELECT val FROM ${table} WHERE tenant_id = $1`, [tn])).rows[0].val);
      res.lookups++;
      if (r.outcome === 'hit') res.hits++;
      if (r.value < floor) res.stale++;
      await new Promise(setImmediate);
    }
  };
  const work = Promise.all([writer(), writer(), reader(), reader(), reader(), reader()]);
  try {
    for (let k = 0; k < 6; k++) {
      assert.ok(await w.waitUntilHealthy(20000), 'reconnected');
      await h.sleep(150);
      await terminate(w.listenerPid);
      res.kills++;
      await h.waitFor(() => !w.healthy, 10000, 'the watcher to notice');
    }
    assert.ok(await w.waitUntilHealthy(20000), 'reconnected');
    await h.sleep(200);
  } finally {
    running = false;
    await work;
  }
  try {
    // Converged: every held pair equals the server's version, from notifications alone.
    for (const tn of tenants) {
      const server = await h.serverVersion(db, tn, domain);
      await h.waitFor(async () => (await w.versions(tn, [domain]))[0] === server, 10000, `tenant ${tn} to converge`);
    }
    console.log(`[ reconnect under load ] ${res.kills} terminations, ${res.writes} writes, ${res.lookups} lookups, ` +
      `${res.hits} hits, ${res.stale} stale reads; ${w.counters.connects} sessions, ${w.counters.sqlFallbacks} SQL fallbacks`);
    assert.equal(res.stale, 0, 'a read returned a value older than a refreshed write');
    assert.ok(res.hits > 0);
    assert.ok(w.counters.connects >= 7);
  } finally {
    await w.close();
  }
});
