'use strict';
// node src/main.js  — the libpq environment (PGHOST, PGPORT, PGUSER,
// PGDATABASE) names the database; GRAPHQL_SCHEMAS (comma separated, default
// "public"), GRAPHQL_ROLE (the role requests run as, with row-level security
// on app.tenant_id), PORT (default 5678).
const { createServer } = require('./server');

createServer({
  schemas: (process.env.GRAPHQL_SCHEMAS || 'public').split(','),
  role: process.env.GRAPHQL_ROLE,
  port: Number(process.env.PORT || 5678),
}).then((s) => {
  console.log(`graphql server on ${s.url}/graphql`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}, (e) => {
  console.error(e);
  process.exit(1);
});
