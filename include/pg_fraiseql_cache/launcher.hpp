// Registration of the launcher, which starts a worker per served database.
#pragma once

namespace fraiseql_cache {
void register_launcher();
}
