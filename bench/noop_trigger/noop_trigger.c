/*
 * fraiseql_bench_noop.noop_row(): a C row trigger that returns the row it was
 * given and does nothing else. Attached BEFORE ROW, it measures the floor of
 * PostgreSQL's trigger machinery (and, for COPY, the loss of multi-insert
 * batching that any BEFORE ROW INSERT trigger causes), against which
 * pg_fraiseql_cache's own trigger is compared in bench/write_cost.py.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(fraiseql_bench_noop_row);

Datum
fraiseql_bench_noop_row(PG_FUNCTION_ARGS)
{
	TriggerData *td;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("fraiseql_bench_noop.noop_row() must be called as a trigger")));
	td = (TriggerData *) fcinfo->context;
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(td->tg_newtuple);
	return PointerGetDatum(td->tg_trigtuple);
}
