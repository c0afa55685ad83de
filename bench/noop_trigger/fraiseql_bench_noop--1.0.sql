-- fraiseql_bench_noop 1.0
\echo Use "CREATE EXTENSION fraiseql_bench_noop" to load this file. \quit

CREATE FUNCTION fraiseql_bench_noop.noop_row()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'fraiseql_bench_noop_row';
COMMENT ON FUNCTION fraiseql_bench_noop.noop_row() IS
    'Returns the row unchanged and does nothing else: the cost floor of a C row trigger.';
