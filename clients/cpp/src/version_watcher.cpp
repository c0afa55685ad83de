#include "fraiseql_cache/client/version_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fraiseql_cache/client/backoff.hpp"
#include "fraiseql_cache/client/notification.hpp"
#include "fraiseql_cache/client/sql_version_reader.hpp"
#include "listener_session.hpp"
#include "watcher_state.hpp"

namespace fraiseql_cache::client {

namespace {
using Clock = std::chrono::steady_clock;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

struct AtomicCounters {
    std::atomic<std::uint64_t> notifications{0}, payload_errors{0}, versions_raised{0},
        heartbeats{0}, pings{0}, connects{0}, disconnects{0}, loads{0}, local_lookups{0},
        first_reads{0}, sql_fallbacks{0}, refreshes{0};
};

void bump(std::atomic<std::uint64_t> &c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

struct VersionWatcher::Impl {
    explicit Impl(WatcherOptions o) : options(std::move(o)), reader(options.conninfo) {
        if (options.heartbeat_channel.empty())
            options.heartbeat_channel = options.channel + "_heartbeat";
        wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    ~Impl() {
        if (wake_fd >= 0)
            ::close(wake_fd);
    }

    WatcherOptions options;
    SqlVersionReader reader;  // first reads, fallbacks, refresh()
    detail::WatcherState state;
    AtomicCounters counters;
    std::atomic<std::int64_t> last_heard_ms{0};
    std::atomic<int> listener_pid{0};
    std::atomic<bool> stopping{false};
    std::atomic<bool> reload_requested{false};
    std::atomic<long long> last_floor{-1};  // from the last heartbeat, -1: none yet

    // The "floor" member of a heartbeat payload, -1 when absent.
    static long long heartbeat_floor(const std::string &payload) {
        static const std::string key = "\"floor\": ";
        std::size_t at = payload.find(key);
        if (at == std::string::npos)
            return -1;
        long long value = 0;
        std::size_t i = at + key.size(), digits = 0;
        for (; i < payload.size() && payload[i] >= '0' && payload[i] <= '9' && digits < 18;
             i++, digits++)
            value = value * 10 + (payload[i] - '0');
        return digits > 0 ? value : -1;
    }
    int wake_fd = -1;
    std::thread thread;

    mutable std::mutex error_mu;
    std::string last_error;

    std::mutex callback_mu;
    UpdateCallback callback;

    mutable std::mutex health_mu;
    mutable std::condition_variable health_cv;

    bool live() const {
        return now_ms() - last_heard_ms.load(std::memory_order_acquire) <
               options.liveness_timeout.count();
    }
    void heard() { last_heard_ms.store(now_ms(), std::memory_order_release); }

    void set_error(const std::string &e) {
        std::lock_guard<std::mutex> lock(error_mu);
        last_error = e;
    }

    void notify_health() {
        std::lock_guard<std::mutex> lock(health_mu);
        health_cv.notify_all();
    }

    void publish(const std::vector<VersionUpdate> &raised) {
        if (raised.empty())
            return;
        bump(counters.versions_raised, raised.size());
        UpdateCallback cb;
        {
            std::lock_guard<std::mutex> lock(callback_mu);
            cb = callback;
        }
        if (!cb)
            return;
        for (const VersionUpdate &u : raised) {
            try {
                cb(u);
            } catch (...) {
                // An application callback must not stop the listener.
            }
        }
    }

    // Listener thread: one notification.
    void on_payload(bool heartbeat, const std::string &payload) noexcept {
        heard();
        if (heartbeat) {
            bump(counters.heartbeats);
            // The heartbeat carries the server's floor (the version of pairs
            // never bumped). It moves on a reset or after a crash, when every
            // version moved without a notification per pair: reload.
            long long floor = heartbeat_floor(payload);
            if (floor >= 0) {
                long long previous = last_floor.exchange(floor);
                if (previous >= 0 && previous != floor)
                    reload_requested.store(true);
            }
            return;
        }
        bump(counters.notifications);
        try {
            auto updates = parse_notification(payload);
            if (!updates) {
                // Something was said that we cannot read: reload everything.
                bump(counters.payload_errors);
                reload_requested.store(true);
                return;
            }
            publish(state.apply_heard(*updates));
        } catch (...) {
            bump(counters.payload_errors);
            reload_requested.store(true);
        }
    }

    void load(detail::ListenerSession &session) {
        std::vector<PairKey> pairs = state.held_pairs();
        detail::LoadResult r = session.load(pairs);
        heard();
        bump(counters.loads);
        publish(state.apply_load(pairs, r.versions, r.global_domains));
        notify_health();
        // Notifications that arrived during the query.
        session.dispatch();
    }

    // Sleeps `d` unless woken by stop().
    void sleep_unless_stopped(std::chrono::milliseconds d);

    void session_loop(detail::ListenerSession &session) {
        auto next_resync = Clock::now() + options.resync_interval;
        while (!stopping.load()) {
            session.dispatch();
            if (reload_requested.exchange(false)) {
                load(session);
                next_resync = Clock::now() + options.resync_interval;
            }
            // Wake for a ping once nothing has been heard for ping_interval,
            // and for the resync.
            std::int64_t quiet = now_ms() - last_heard_ms.load();
            auto until_ping = std::chrono::milliseconds(
                std::max<std::int64_t>(0, options.ping_interval.count() - quiet));
            auto timeout = until_ping;
            if (options.resync_interval.count() > 0) {
                auto until_resync = std::chrono::duration_cast<std::chrono::milliseconds>(
                    next_resync - Clock::now());
                timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_resync));
            }
            auto wake = session.wait(timeout, wake_fd);
            if (stopping.load())
                return;
            if (wake == detail::ListenerSession::Wake::Traffic)
                session.dispatch();
            if (now_ms() - last_heard_ms.load() >= options.ping_interval.count()) {
                session.ping();
                bump(counters.pings);
                heard();
            }
            if (options.resync_interval.count() > 0 && Clock::now() >= next_resync) {
                load(session);
                next_resync = Clock::now() + options.resync_interval;
            }
        }
    }

    void run() noexcept {
        Backoff backoff(options.reconnect_initial, options.reconnect_max);
        while (!stopping.load()) {
            try {
                detail::ListenerSession session(
                    options.conninfo, options.channel, options.heartbeat_channel,
                    [this](bool hb, const std::string &p) { on_payload(hb, p); });
                bump(counters.connects);
                listener_pid.store(session.backend_pid());
                heard();
                reload_requested.store(false);
                load(session);  // after LISTEN: nothing said from here on is missed
                backoff.reset();
                session_loop(session);
            } catch (const std::exception &e) {
                set_error(e.what());
            } catch (...) {
                set_error("unknown error in the listener");
            }
            state.mark_unhealthy();
            listener_pid.store(0);
            notify_health();
            if (stopping.load())
                break;
            bump(counters.disconnects);
            sleep_unless_stopped(backoff.next());
        }
    }
};

void VersionWatcher::Impl::sleep_unless_stopped(std::chrono::milliseconds d) {
    if (wake_fd < 0) {
        std::this_thread::sleep_for(d);
        return;
    }
    pollfd p;
    p.fd = wake_fd;
    p.events = POLLIN;
    p.revents = 0;
    ::poll(&p, 1, int(std::min<long long>(d.count(), 60000)));
}

VersionWatcher::VersionWatcher(WatcherOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
    Impl *impl = impl_.get();
    impl_->thread = std::thread([impl] { impl->run(); });
}

VersionWatcher::~VersionWatcher() { stop(); }

void VersionWatcher::stop() {
    if (!impl_ || impl_->stopping.exchange(true))
        return;
    if (impl_->wake_fd >= 0) {
        std::uint64_t one = 1;
        ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
        (void)n;
    }
    if (impl_->thread.joinable())
        impl_->thread.join();
}

std::vector<Version> VersionWatcher::versions(const std::string &tenant_in,
                                              const std::vector<std::string> &domains) {
    const std::string tenant = normalize_tenant(tenant_in);
    if (domains.empty())
        return {};
    auto found = impl_->state.lookup(tenant, domains, impl_->live());
    switch (found.outcome) {
    case detail::WatcherState::Outcome::Local:
        bump(impl_->counters.local_lookups);
        return found.versions;
    case detail::WatcherState::Outcome::Unhealthy:
        bump(impl_->counters.sql_fallbacks);
        return impl_->reader.versions(tenant, domains);
    case detail::WatcherState::Outcome::Missing:
        break;
    }
    bump(impl_->counters.first_reads);
    std::vector<DomainRead> reads = impl_->reader.read_domains(tenant, domains);
    std::vector<Version> merged;
    impl_->publish(impl_->state.apply_read(tenant, domains, reads, found.epoch, impl_->live(),
                                           &merged));
    return merged;
}

std::vector<Version> VersionWatcher::refresh(const std::string &tenant_in,
                                             const std::vector<std::string> &domains) {
    const std::string tenant = normalize_tenant(tenant_in);
    bump(impl_->counters.refreshes);
    if (domains.empty())
        return {};
    // The epoch before the read: pairs new to the map are held only if the
    // listener stayed up while the read ran.
    const std::uint64_t epoch = impl_->state.epoch();
    std::vector<DomainRead> reads = impl_->reader.read_domains(tenant, domains);
    std::vector<Version> merged;
    impl_->publish(impl_->state.apply_read(tenant, domains, reads, epoch, impl_->live(), &merged));
    return merged;
}

bool VersionWatcher::healthy() const { return impl_->state.healthy() && impl_->live(); }

bool VersionWatcher::wait_until_healthy(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock<std::mutex> lock(impl_->health_mu);
    while (!healthy()) {
        if (Clock::now() >= deadline)
            return false;
        impl_->health_cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    return true;
}

WatcherCounters VersionWatcher::counters() const {
    const AtomicCounters &a = impl_->counters;
    WatcherCounters c;
    c.notifications = a.notifications.load();
    c.payload_errors = a.payload_errors.load();
    c.versions_raised = a.versions_raised.load();
    c.heartbeats = a.heartbeats.load();
    c.pings = a.pings.load();
    c.connects = a.connects.load();
    c.disconnects = a.disconnects.load();
    c.loads = a.loads.load();
    c.local_lookups = a.local_lookups.load();
    c.first_reads = a.first_reads.load();
    c.sql_fallbacks = a.sql_fallbacks.load();
    c.refreshes = a.refreshes.load();
    c.held_pairs = impl_->state.size();
    return c;
}

int VersionWatcher::listener_pid() const { return impl_->listener_pid.load(); }

std::string VersionWatcher::last_error() const {
    std::lock_guard<std::mutex> lock(impl_->error_mu);
    return impl_->last_error;
}

void VersionWatcher::on_update(UpdateCallback callback) {
    std::lock_guard<std::mutex> lock(impl_->callback_mu);
    impl_->callback = std::move(callback);
}

}  // namespace fraiseql_cache::client
