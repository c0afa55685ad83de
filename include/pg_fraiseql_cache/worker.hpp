// Registration of the background worker.
#pragma once

namespace fraiseql_cache {
void register_worker();
}
