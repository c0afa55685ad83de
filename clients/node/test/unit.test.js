'use strict';
// No server: payloads, versions, the state rules, the entry codec, the LRU,
// the cache protocol over a scripted watcher, backoff.
const test = require('node:test');
const assert = require('node:assert/strict');
const { parseNotification, parseHeartbeat, parseVersion, parseLsn, normalizeTenant, encodeEntry, decodeEntry,
  LruStore, VersionedCache, codecs, ALL_TENANTS } = require('..');
const { WatcherState } = require('../src/watcher_state');
const { Backoff } = require('../src/backoff');

const T1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const T2 = 'bbbbbbbb-0000-4000-8000-000000000002';

test('payloads: one object, an array, optional and unknown keys', () => {
  assert.deepEqual(parseNotification(`{"tenant_id": "${T1.toUpperCase()}", "domain": "contract", "version": 43}`),
    [{ tenant: T1, domain: 'contract', version: 43 }]);
  assert.deepEqual(parseNotification(`[{"tenant_id": "${T1}", "domain": "a", "version": 1}, {"tenant_id": "${T2}", "domain": "b", "version": 2}]`),
    [{ tenant: T1, domain: 'a', version: 1 }, { tenant: T2, domain: 'b', version: 2 }]);
  assert.deepEqual(parseNotification('[]'), []);
  assert.deepEqual(parseNotification(`{"tenant_id": "${ALL_TENANTS}", "domain": "d", "version": 9, "domain_floor": 7, "lsn": "0/16B3748", "later": {"x": [1]}}`),
    [{ tenant: ALL_TENANTS, domain: 'd', version: 9, domainFloor: 7, lsn: '0/16B3748' }]);
});

test('payloads: anything unreadable is refused with the reason', () => {
  const bad = ['not json', '42', 'null', `{"domain": "d", "version": 1}`, `{"tenant_id": "x", "domain": "d", "version": 1}`,
    `{"tenant_id": "${T1}", "domain": "", "version": 1}`, `{"tenant_id": "${T1}", "domain": "d", "version": -1}`,
    `{"tenant_id": "${T1}", "domain": "d", "version": 1.5}`, `{"tenant_id": "${T1}", "domain": "d", "version": 9007199254740993}`,
    `{"tenant_id": "${T1}", "domain": "d", "version": "1"}`, `{"tenant_id": "${T1}", "domain": "d", "version": 1, "lsn": "16B3748"}`,
    `{"tenant_id": "${T1}", "domain": "d", "version": 1, "domain_floor": "x"}`, `[{"tenant_id": "${T1}", "domain": "d", "version": 1}, 3]`];
  for (const p of bad) assert.throws(() => parseNotification(p), Error, p);
});

test('heartbeats: the floor, or null', () => {
  assert.equal(parseHeartbeat('{"at": "2026-01-01 00:00:00+00", "published": 12, "floor": 16386}'), 16386);
  assert.equal(parseHeartbeat('{"at": "x", "published": 12}'), null);
  assert.equal(parseHeartbeat('garbage'), null);
});

test('versions are parsed as exact integers below 2^53, never rounded', () => {
  assert.equal(parseVersion('9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.equal(parseVersion('0'), 0);
  assert.equal(parseVersion(12n), 12);
  for (const v of ['9007199254740992', '-1', '1e3', '', ' 1', 1.5, -2, NaN, null]) assert.throws(() => parseVersion(v), RangeError, String(v));
  assert.ok(parseLsn('1/0') > parseLsn('0/FFFFFFFF'));
  assert.equal(parseLsn('nope'), null);
  assert.throws(() => normalizeTenant('nope'), TypeError);
  assert.equal(normalizeTenant(` ${T1.toUpperCase()} `), T1);
});

test('state: the maximum wins, in any order, idempotently', () => {
  const s = new WatcherState();
  s.applyLoad([], [], []);
  s.applyHeard([{ tenant: T1, domain: 'd', version: 5 }, { tenant: T1, domain: 'd', version: 3 }]);
  s.applyHeard([{ tenant: T1, domain: 'd', version: 5 }]);
  assert.deepEqual(s.lookup(T1, ['d'], true).versions, [5]);
  const { merged } = s.applyRead(T1, ['d'], [{ version: 4, global: false }], s.epoch, true);
  assert.deepEqual(merged, [5], 'an older read does not lower what is held');
});

test('state: a pair read across a lost listener is not held', () => {
  const s = new WatcherState();
  s.applyLoad([], [], []);
  const found = s.lookup(T1, ['d'], true);
  assert.equal(found.outcome, 'missing');
  s.markUnhealthy();
  s.applyLoad([], [], []);
  s.applyRead(T1, ['d'], [{ version: 4, global: false }], found.epoch, true);
  assert.equal(s.lookup(T1, ['d'], true).outcome, 'missing');
  s.applyRead(T1, ['d'], [{ version: 4, global: false }], s.epoch, true);
  assert.deepEqual(s.lookup(T1, ['d'], true).versions, [4]);
  assert.equal(s.lookup(T1, ['d'], false).outcome, 'unhealthy', 'not live: not trusted');
  s.markUnhealthy();
  assert.equal(s.lookup(T1, ['d'], true).outcome, 'unhealthy');
});

test('state: a load that something distrusted meanwhile does not make the state healthy', () => {
  const s = new WatcherState();
  s.applyLoad([], [], [], false);
  assert.equal(s.lookup(T1, ['d'], true).outcome, 'unhealthy');
});

test('state: a domain floor raises every held pair of the domain and later ones', () => {
  const s = new WatcherState();
  s.applyLoad([], [], []);
  s.applyHeard([{ tenant: T1, domain: 'd', version: 3 }, { tenant: T2, domain: 'd', version: 50 },
    { tenant: T1, domain: 'other', version: 1 }]);
  const raised = s.applyHeard([{ tenant: ALL_TENANTS, domain: 'd', version: 60, domainFloor: 10, lsn: '0/10' }]);
  assert.deepEqual(raised.map((u) => [u.tenant, u.version]).sort(), [[ALL_TENANTS, 60], [T1, 10]]);
  assert.deepEqual(s.lookup(T1, ['d', 'other'], true).versions, [10, 1]);
  assert.deepEqual(s.lookup(T2, ['d'], true).versions, [50]);
  const t3 = 'cccccccc-0000-4000-8000-000000000003';
  assert.deepEqual(s.applyRead(t3, ['d'], [{ version: 2, global: false }], s.epoch, true).merged, [10]);
  assert.deepEqual(s.lookup(t3, ['d'], true).versions, [10]);
  s.applyHeard([{ tenant: T1, domain: 'd', version: 12, domainFloor: 99 }]);
  assert.deepEqual(s.lookup(T2, ['d'], true).versions, [50], 'domain_floor counts only on the all-tenants pair');
  assert.equal(s.lastLsn, '0/10');
});

test('state: global domains are held under the all-tenants id', () => {
  const s = new WatcherState();
  s.applyLoad([], [], ['g']);
  s.applyRead(T1, ['g'], [{ version: 7, global: true }], s.epoch, true);
  assert.deepEqual(s.lookup(T2, ['g'], true).versions, [7]);
  assert.equal(s.effectiveKey(T2, 'g'), `${ALL_TENANTS}|g`);
});

test('entry codec: round trip, the C++ client format, garbage refused', () => {
  const e = { domains: ['contract', 'itém'], versions: [3, 9007199254740991], value: 'v\nwith lines' };
  const s = encodeEntry(e);
  assert.equal(s, 'FCE1 2\n3 8 contract\n9007199254740991 5 itém\nv\nwith lines');
  assert.deepEqual(decodeEntry(s), e);
  assert.deepEqual(decodeEntry('FCE1 0\n'), { domains: [], versions: [], value: '' });
  for (const g of ['', 'FCE2 0\n', 'FCE1 1\n3 8 contract', 'FCE1 1\n3 9 contract\nx', 'FCE1 x\n', 'FCE1 1\n99999999999999999 1 d\n']) {
    assert.equal(decodeEntry(g), null, JSON.stringify(g));
  }
});

test('LRU: bounded, least recently used out', async () => {
  const lru = new LruStore(2);
  const e = (v) => ({ domains: ['d'], versions: [1], value: v });
  await lru.put('a', e('1'));
  await lru.put('b', e('2'));
  assert.equal((await lru.get('a')).value, '1');
  await lru.put('c', e('3'));
  assert.equal(await lru.get('b'), null);
  assert.equal((await lru.get('a')).value, '1');
  assert.equal(lru.size, 2);
  await lru.erase('a');
  assert.equal(await lru.get('a'), null);
  assert.throws(() => new LruStore(0), RangeError);
});

// A watcher whose versions the test sets.
function scriptedWatcher() {
  const versions = new Map();
  return {
    fail: false,
    async versions(tenant, domains) {
      if (this.fail) throw new Error('server unreachable');
      return domains.map((d) => versions.get(d) || 0);
    },
    set: (d, v) => versions.set(d, v),
  };
}

test('cache: versions are read before computing; a hit only with exactly those versions', async () => {
  const w = scriptedWatcher();
  const cache = new VersionedCache(w, new LruStore(10), { name: 'n' });
  let computed = 0;
  const compute = async () => {
    computed++;
    w.set('d', 2); // a write lands while computing: the entry keeps the versions read before
    return { n: computed };
  };
  w.set('d', 1);
  let r = await cache.fetch('k', T1, ['d'], compute);
  assert.equal(r.outcome, 'miss');
  assert.deepEqual(r.versions, [1]);
  r = await cache.fetch('k', T1, ['d'], async () => ({ n: -1 }));
  assert.equal(r.outcome, 'miss', 'tagged with 1, current is 2: refused');
  assert.equal(cache.counters.refusedStale, 1);
  r = await cache.fetch('k', T1, ['d'], async () => ({ n: -1 }));
  assert.equal(r.outcome, 'hit');
  assert.deepEqual(r.value, { n: -1 });
  r = await cache.fetch('k', T2, ['d'], async () => ({ n: 'b' }));
  assert.equal(r.outcome, 'miss', 'another tenant, another entry');
  r = await cache.fetch('k', T1, ['d', 'e'], async () => 'x');
  assert.equal(r.outcome, 'miss', 'other domains: not the same entry');
  assert.deepEqual(cache.counters, { hits: 1, misses: 4, refusedStale: 2, uncached: 0, storeErrors: 0 });
});

test('cache: unreadable versions compute without caching; a failing store is a miss', async () => {
  const w = scriptedWatcher();
  const store = new LruStore(10);
  const cache = new VersionedCache(w, store, { codec: codecs.string });
  w.fail = true;
  const r = await cache.fetch('k', T1, ['d'], () => 'v');
  assert.equal(r.outcome, 'uncached');
  assert.equal(store.size, 0);
  w.fail = false;
  const broken = { get: async () => { throw new Error('down'); }, put: async () => { throw new Error('down'); }, erase: async () => {} };
  const c2 = new VersionedCache(w, broken, { codec: codecs.string });
  assert.equal((await c2.fetch('k', T1, ['d'], () => 'v')).outcome, 'miss');
  assert.equal((await c2.fetch('k', T1, ['d'], () => 'v')).outcome, 'miss');
  assert.equal(c2.counters.storeErrors, 4);
  await assert.rejects(cache.fetch('k', 'not-a-tenant', ['d'], () => 'v'), TypeError);
  await assert.rejects(cache.fetch('k', T1, 'd', () => 'v'), TypeError);
});

test('backoff: doubles, jittered, capped, reset', () => {
  const b = new Backoff(100, 1000, () => 0.999);
  const d = [b.next(), b.next(), b.next(), b.next(), b.next()];
  assert.ok(d[0] >= 50 && d[0] < 100);
  assert.ok(d[1] >= 100 && d[1] < 200);
  assert.ok(d[4] >= 500 && d[4] < 1000);
  b.reset();
  assert.ok(b.next() < 100);
  assert.throws(() => new Backoff(0, 10), RangeError);
});
