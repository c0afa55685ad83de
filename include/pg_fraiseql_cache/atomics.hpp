// Explicit-ordering atomic operations on plain integer fields.
//
// Shared memory holds trivially copyable structs only, so lock-free fields
// are plain integers accessed through these helpers (GCC/Clang __atomic
// builtins, the same primitives PostgreSQL's port/atomics uses on these
// compilers). The helpers do not include postgres.h, so the data structures
// built on them are tested and benchmarked without a server.
#pragma once

#include <cstdint>
#include <type_traits>

namespace fraiseql_cache::atomics {

template <typename T>
inline T load_acquire(const T *p) {
    static_assert(std::is_integral_v<T>);
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

template <typename T>
inline T load_relaxed(const T *p) {
    static_assert(std::is_integral_v<T>);
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

template <typename T>
inline void store_release(T *p, T v) {
    static_assert(std::is_integral_v<T>);
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

template <typename T>
inline void store_relaxed(T *p, T v) {
    static_assert(std::is_integral_v<T>);
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

template <typename T>
inline T fetch_add(T *p, T v) {
    static_assert(std::is_integral_v<T>);
    return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
}

// On failure *expected receives the current value.
template <typename T>
inline bool compare_exchange(T *p, T *expected, T desired) {
    static_assert(std::is_integral_v<T>);
    return __atomic_compare_exchange_n(p, expected, desired, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

// Raises *p to at least v (monotonic maximum, e.g. a high-water mark).
template <typename T>
inline void fetch_max(T *p, T v) {
    T cur = load_relaxed(p);
    while (cur < v && !compare_exchange(p, &cur, v)) {
    }
}

}  // namespace fraiseql_cache::atomics
