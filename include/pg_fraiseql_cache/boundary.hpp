// The C++ / PostgreSQL error boundary, in both directions.
//
// Into PostgreSQL, two kinds of entry points (SQL function, trigger, hook,
// callback, worker main):
//   guarded   the body uses C++ objects that own resources or may throw:
//             it runs through guarded(). No exception leaves it; whatever
//             was thrown is turned into ereport(ERROR) only after every C++
//             frame of the body has been unwound, so no destructor is
//             skipped. current_version(), current_versions(), the worker's,
//             the launcher's and the standby loader's main loops.
//   C-style   the body owns nothing with a destructor and calls nothing that
//             throws (containers are reached only through noexcept calls
//             that report failure by their result, such as pending::record()),
//             so an ereport(ERROR) unwinds it as it unwinds PostgreSQL's own
//             C: the row trigger, registration, manual invalidation,
//             monitoring and served-database SQL functions, the triggers on
//             the extension's tables, _trigger_argument(), the object access
//             and utility hooks (PG_TRY around the step aside), the
//             transaction callbacks (noexcept; they raise only at
//             PRE_COMMIT/PRE_PREPARE), the shared-memory hooks, _PG_init, and
//             the WAL resource manager's redo/desc/identify (redo raises
//             nothing: malformed input is skipped).
//
// A PgError caught is re-raised by guarded(), with one exception: between a
// batch's commit and its publication the worker logs it instead
// (log_quietly(), the standby record), because an error there would make the
// restarted worker count the committed batch twice.
//
// Out of PostgreSQL: C++ code calls anything that can ereport(ERROR) through
// pg_call(). It catches the longjmp at once (restoring the exception stack,
// error context and memory context, as PG_TRY does), copies the error and
// rethrows it as PgError; guarded() re-raises the original error unchanged.
// The callable passed to pg_call must itself own nothing with a destructor.
#pragma once

#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "pg_fraiseql_cache/pg.hpp"

namespace fraiseql_cache {

// A PostgreSQL error caught by pg_call, carried across C++ frames.
struct PgError {
    ErrorData *data;
};

// An error the extension raises from C++: SQLSTATE, message, detail, hint.
class SqlError : public std::runtime_error {
  public:
    SqlError(int sqlstate, std::string message, std::string hint = {}, std::string detail = {})
        : std::runtime_error(message), sqlstate_(sqlstate), hint_(std::move(hint)),
          detail_(std::move(detail)) {}
    int sqlstate() const { return sqlstate_; }
    const std::string &hint() const { return hint_; }
    const std::string &detail() const { return detail_; }

  private:
    int sqlstate_;
    std::string hint_;
    std::string detail_;
};

template <typename F>
void pg_call_void(F &&fn) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData *volatile caught = nullptr;
    PG_TRY();
    {
        fn();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        caught = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (caught != nullptr)
        throw PgError{caught};
}

// Runs fn, which calls PostgreSQL, turning an ERROR into PgError.
template <typename F>
auto pg_call(F &&fn) -> decltype(fn()) {
    using R = decltype(fn());
    if constexpr (std::is_void_v<R>) {
        pg_call_void(std::forward<F>(fn));
    } else {
        static_assert(std::is_trivially_copyable_v<R>, "pg_call returns plain values");
        R result{};
        pg_call_void([&] { result = fn(); });
        return result;
    }
}

namespace detail {
// What a failed body left behind, in storage with no destructor.
struct CaughtError {
    ErrorData *pg = nullptr;
    int sqlstate = 0;
    char message[512] = {};
    char hint[512] = {};
    char detail[512] = {};
};
void copy_text(char (&dst)[512], const char *src);
[[noreturn]] void raise(const CaughtError &caught);
}  // namespace detail

// Runs body and returns its result; any exception becomes an ERROR raised
// after the body's frames are gone.
template <typename F>
auto guarded(F &&body) -> decltype(body()) {
    detail::CaughtError caught;
    try {
        return body();
    } catch (const PgError &e) {
        caught.pg = e.data;
    } catch (const SqlError &e) {
        caught.sqlstate = e.sqlstate();
        detail::copy_text(caught.message, e.what());
        detail::copy_text(caught.hint, e.hint().c_str());
        detail::copy_text(caught.detail, e.detail().c_str());
    } catch (const std::bad_alloc &) {
        caught.sqlstate = ERRCODE_OUT_OF_MEMORY;
        detail::copy_text(caught.message, "out of memory");
    } catch (const std::exception &e) {
        caught.sqlstate = ERRCODE_INTERNAL_ERROR;
        detail::copy_text(caught.message, e.what());
    } catch (...) {
        caught.sqlstate = ERRCODE_INTERNAL_ERROR;
        detail::copy_text(caught.message, "unknown C++ exception");
    }
    detail::raise(caught);
}

}  // namespace fraiseql_cache
