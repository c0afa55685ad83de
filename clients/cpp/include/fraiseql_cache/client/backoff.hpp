// Exponential reconnect backoff with jitter: initial, initial*2, ... capped
// at max, each delay drawn from [delay/2, delay].
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace fraiseql_cache::client {

class Backoff {
  public:
    Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
            std::uint64_t seed = std::random_device{}());

    // The delay before the next attempt; each call doubles the base.
    std::chrono::milliseconds next();
    // After a success: start again from `initial`.
    void reset() { attempt_ = 0; }
    unsigned attempt() const { return attempt_; }

  private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    unsigned attempt_ = 0;
    std::mt19937_64 rng_;
};

}  // namespace fraiseql_cache::client
