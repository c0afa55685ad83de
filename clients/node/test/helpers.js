'use strict';
// Shared by the tests that need a server: the libpq environment (PGHOST,
// PGPORT, PGUSER = a superuser, PGDATABASE) names a database of a cluster
// with pg_fraiseql_cache preloaded.
const crypto = require('node:crypto');
const pg = require('pg');

const SCHEMA = 'fc_node_test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const newUuid = () => crypto.randomUUID();

async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

async function connect() {
  const c = new pg.Client();
  await c.connect();
  return c;
}

// Once per test file: the extension and the schema the test tables live in.
async function prepare(db) {
  await db.query(`SET client_min_messages = warning;
    CREATE EXTENSION IF NOT EXISTS pg_fraiseql_cache;
    CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
}

// A tracked table of its own (domain = its name): (id, tenant_id, val).
async function makeTable(db, tag, { global = false } = {}) {
  const name = `${tag}_${crypto.randomBytes(4).toString('hex')}`;
  await db.query(`CREATE TABLE ${SCHEMA}.${name} (id int PRIMARY KEY, ${global ? '' : 'tenant_id uuid NOT NULL,'} val int NOT NULL DEFAULT 0)`);
  await db.query(`SELECT fraiseql_cache.setup_table_invalidation($1, $2, $3)`,
    [`${SCHEMA}.${name}`, name, global ? null : 'tenant_id']);
  return { table: `${SCHEMA}.${name}`, domain: name };
}

async function dropTables(db) {
  const r = await db.query(`SELECT table_name FROM fraiseql_cache.tracked_tables WHERE table_schema = $1`, [SCHEMA]);
  for (const row of r.rows) await db.query(`DROP TABLE IF EXISTS ${SCHEMA}.${row.table_name}`);
  // Only once empty: another test file may still be using it.
  await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA}`).catch(() => {});
}

async function serverVersion(db, tenant, domain) {
  const r = await db.query('SELECT fraiseql_cache.current_version($1::uuid, $2)::text AS v', [tenant, domain]);
  return Number(r.rows[0].v);
}

// A channel of the test's own: what is sent on it is only heard by its watchers.
const privateChannel = (tag) => `fcn_${tag}_${crypto.randomBytes(3).toString('hex')}`;

function quietLogger() {
  const lines = [];
  return { lines, warn: (line) => lines.push(line) };
}

module.exports = { SCHEMA, sleep, newUuid, waitFor, connect, prepare, makeTable, dropTables, serverVersion,
  privateChannel, quietLogger };
