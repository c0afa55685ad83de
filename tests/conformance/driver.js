#!/usr/bin/env node
// The conformance scenario through the Node client (clients/node).
//
// Usage: node driver.js SCENARIO.json RUN   (server from PGHOST, PGPORT, PGUSER, PGDATABASE)
// Prints one JSON line per observation on stdout (see README.md next to this file).
'use strict';

const fs = require('fs');
const path = require('path');

const NODE_CLIENT = path.join(__dirname, '..', '..', 'clients', 'node');
const { VersionWatcher } = require(NODE_CLIENT);
const pg = require(require.resolve('pg', { paths: [NODE_CLIENT] }));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const subst = (s, run) => s.split('{run}').join(run);

async function main() {
  if (process.argv.length !== 4) throw new Error('usage: node driver.js SCENARIO.json RUN');
  const scenario = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const run = process.argv[3];
  const pairs = Object.entries(scenario.pairs).map(([label, p]) =>
    ({ label, tenant: subst(p.tenant, run), domain: subst(p.domain, run) }));
  const admin = new pg.Client();
  await admin.connect();
  const watcher = new VersionWatcher({ resyncMs: 0, logger: { warn: (l) => process.stderr.write(`${l}\n`) } }).start();
  const base = {};
  const prev = {};
  let killed = null;

  const server = async (p) => Number((await admin.query(
    'SELECT fraiseql_cache.current_version($1::uuid, $2) AS v', [p.tenant, p.domain])).rows[0].v);

  async function observe(step) {
    const deadline = Date.now() + scenario.observe_timeout_s * 1000;
    let seen, truth, local, reconnected;
    for (;;) {
      const pid = watcher.listenerPid;
      reconnected = pid !== 0 && killed !== null && pid !== killed;
      local = watcher.healthy;
      seen = {};
      for (const p of pairs) {
        const before = watcher.counters.localLookups;
        seen[p.label] = Number((await watcher.versions(p.tenant, [p.domain]))[0]);
        local = local && watcher.counters.localLookups === before + 1;
      }
      truth = {};
      for (const p of pairs) truth[p.label] = await server(p);
      const matches = pairs.every((p) => seen[p.label] === truth[p.label]);
      if ((local && matches && (!step.reconnected || reconnected)) || Date.now() >= deadline) break;
      await sleep(50);
    }
    if (Object.keys(base).length === 0) { Object.assign(base, seen); Object.assign(prev, seen); }
    const out = { step: step.observe, local, matches_server: pairs.every((p) => seen[p.label] === truth[p.label]), pairs: {} };
    for (const p of pairs) {
      const v = seen[p.label];
      out.pairs[p.label] = { version: v, server: truth[p.label], delta: v - base[p.label], changed: v !== prev[p.label] };
    }
    if (step.reconnected) { out.reconnected = reconnected; killed = null; }
    Object.assign(prev, seen);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }

  try {
    for (const step of scenario.steps) {
      if (step.sql) {
        for (const statement of step.sql) await admin.query(subst(statement, run));
      } else if (step.await) {
        const deadline = Date.now() + scenario.await_timeout_s * 1000;
        for (;;) {
          const r = await admin.query({ text: subst(step.await, run), rowMode: 'array' });
          if (r.rows[0][0] === true) break;
          if (Date.now() >= deadline) throw new Error(`await timed out: ${step.await}`);
          await sleep(50);
        }
      } else if (step.await_heartbeat) {
        const deadline = Date.now() + scenario.await_timeout_s * 1000;
        while (watcher.counters.heartbeats === 0) {
          if (Date.now() >= deadline) throw new Error('await_heartbeat timed out');
          await sleep(50);
        }
      } else if (step.kill_listener) {
        killed = watcher.listenerPid;
        if (!killed) throw new Error('kill_listener: the listener is not connected');
        await admin.query('SELECT pg_terminate_backend($1)', [killed]);
      } else if (step.observe) {
        await observe(step);
      } else {
        throw new Error(`unknown step ${JSON.stringify(step)}`);
      }
    }
  } finally {
    await watcher.close();
    await admin.end();
  }
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: e && e.stack ? e.stack.split('\n')[0] : String(e) })}\n`);
  process.exit(1);
});
