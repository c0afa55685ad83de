// Where a cache reads the current versions of a key's domains (step 1 of the
// cache protocol). VersionWatcher answers locally; SqlVersionReader asks the
// server every time.
#pragma once

#include <string>
#include <vector>

#include "fraiseql_cache/client/types.hpp"

namespace fraiseql_cache::client {

class VersionSource {
  public:
    virtual ~VersionSource() = default;
    // The versions of (tenant, d) for each d in `domains`, in that order.
    // Never newer than the server's; may lag it by the notification delay.
    // Throws when no answer can be given (server unreachable).
    virtual std::vector<Version> versions(const std::string &tenant,
                                          const std::vector<std::string> &domains) = 0;
};

}  // namespace fraiseql_cache::client
