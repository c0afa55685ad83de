// Stepping a database's worker aside for commands that need the database
// alone (see step_aside.cpp).
#pragma once

#include "pg_fraiseql_cache/pg.hpp"

namespace fraiseql_cache {

// For such a command on a served database: asks its worker to leave and
// returns its slot (-1: nothing to do). *dropping: the command drops it.
int step_aside_for(Node *stmt, bool *dropping);
// Waits, bounded and interruptibly, until the worker has left.
void wait_for_worker_to_leave(int slot);
// After the command (dropped: it succeeded and the database is gone).
void step_back(int slot, bool dropped);

}  // namespace fraiseql_cache
