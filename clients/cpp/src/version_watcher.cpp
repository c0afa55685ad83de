#include "fraiseql_cache/client/version_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "fraiseql_cache/client/backoff.hpp"
#include "fraiseql_cache/client/notification.hpp"
#include "fraiseql_cache/client/sql_version_reader.hpp"
#include "listener_session.hpp"
#include "replay_gate.hpp"
#include "replica_link.hpp"
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
        first_reads{0}, sql_fallbacks{0}, refreshes{0}, gated{0}, replay_polls{0},
        lookup_waits{0}, lookup_wait_timeouts{0}, failovers{0};
};

void bump(std::atomic<std::uint64_t> &c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

struct VersionWatcher::Impl {
    // Replica mode reads every version on the replica, never on the primary.
    static const std::string &read_conninfo(const WatcherOptions &o) {
        return o.replica_conninfo.empty() ? o.conninfo : o.replica_conninfo;
    }

    explicit Impl(WatcherOptions o) : options(std::move(o)), reader(read_conninfo(options)) {
        if (replica_mode() && options.replay_poll_interval.count() <= 0)
            throw std::invalid_argument("replay_poll_interval must be positive");
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

    // Replica mode: heard versions waiting for the replica's replay.
    bool replica_mode() const { return !options.replica_conninfo.empty(); }
    mutable std::mutex gate_mu;
    detail::ReplayGate gate;
    std::vector<VersionUpdate> unstamped;  // heard without "lsn" (listener thread only)
    // Replay polls begun and completed (numbered); lookups wait on poll_cv.
    std::mutex poll_mu;
    std::condition_variable poll_cv;
    std::uint64_t polls_begun = 0, polls_done = 0;
    std::atomic<bool> round_wanted{false};  // an exact lookup waits for a round
    Clock::time_point next_poll{};
    bool replica_in_recovery = true;  // at the start of the session
    // The server listened to last (listener thread only).
    bool have_identity = false;
    detail::ServerIdentity identity;
    bool force_reset = false;  // the replica was promoted: drop the map at the next connect

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
            // version moved without a notification per pair: reload. The
            // first floor heard counts as moved: the pairs held were read
            // before it was known, perhaps before a reset it reports.
            long long floor = heartbeat_floor(payload);
            if (floor >= 0) {
                long long previous = last_floor.exchange(floor);
                if (previous != floor)
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
            if (replica_mode())
                hold(*updates);
            else
                publish(state.apply_heard(*updates));
        } catch (...) {
            bump(counters.payload_errors);
            reload_requested.store(true);
        }
    }

    // Replica mode: a heard version waits in the gate until the replica has
    // replayed its "lsn"; one without waits for the primary's insert position
    // read right after it was heard (stamp()).
    void hold(const std::vector<VersionUpdate> &updates) {
        std::vector<VersionUpdate> with_lsn;
        for (const VersionUpdate &u : updates)
            (u.lsn != 0 ? with_lsn : unstamped).push_back(u);
        bump(counters.gated, updates.size());
        if (with_lsn.empty())
            return;
        std::lock_guard<std::mutex> lock(gate_mu);
        gate.add(with_lsn);
    }

    void stamp(detail::ListenerSession &session) {
        if (unstamped.empty())
            return;
        Lsn at = detail::query_insert_lsn(session.connection());
        std::lock_guard<std::mutex> lock(gate_mu);
        gate.add(unstamped, at);
        unstamped.clear();
    }

    // What has arrived, then (replica mode) the stamps it needs.
    void dispatch(detail::ListenerSession &session) {
        session.dispatch();
        if (replica_mode())
            stamp(session);
    }

    bool gate_empty() const {
        std::lock_guard<std::mutex> lock(gate_mu);
        return gate.empty();
    }

    // One replay poll: the replica's position, releasing what it has
    // replayed. When an exact lookup waits, it first makes a round trip on
    // the listen connection, after which the primary has delivered every
    // notification of a version published before it began.
    Lsn poll_replica(detail::ListenerSession &session, detail::ReplicaLink &replica) {
        std::uint64_t n;
        bool deliver;
        {
            // Under the lock: an exact lookup that took this poll's number
            // as its target has set round_wanted already.
            std::lock_guard<std::mutex> lock(poll_mu);
            n = ++polls_begun;
            deliver = round_wanted.exchange(false);
        }
        if (deliver) {
            session.sync();  // dispatches what arrived with it
            stamp(session);
            heard();
        }
        detail::ReplicaLink::Position p = replica.position();
        bump(counters.replay_polls);
        next_poll = Clock::now() + options.replay_poll_interval;
        if (replica_in_recovery && !p.in_recovery) {
            // Promoted: a failover is under way; start over (and drop the map).
            force_reset = true;
            throw std::runtime_error("the replica left recovery (promoted): reconnecting");
        }
        std::vector<VersionUpdate> released;
        {
            std::lock_guard<std::mutex> lock(gate_mu);
            released = gate.release(p.lsn);
        }
        publish(state.apply_heard(released));
        {
            std::lock_guard<std::mutex> lock(poll_mu);
            polls_done = n;
        }
        poll_cv.notify_all();
        return p.lsn;
    }

    // Polls when versions wait and the interval has passed, or at once for
    // exact lookups waiting.
    void pump(detail::ListenerSession &session, detail::ReplicaLink *replica) {
        if (!replica)
            return;
        if (round_wanted.load() || (!gate_empty() && Clock::now() >= next_poll))
            poll_replica(session, *replica);
    }

    void drain_wake_fd() {
        std::uint64_t n;
        if (wake_fd >= 0 && !stopping.load())
            while (::read(wake_fd, &n, sizeof n) > 0) {
            }
    }

    // Lets every lookup waiting for a poll go (the session ended).
    void release_waiters() {
        {
            std::lock_guard<std::mutex> lock(poll_mu);
            polls_done = ++polls_begun;
        }
        poll_cv.notify_all();
    }

    // A lookup that found a pair with a version waiting: waits until a poll
    // begun after this call has completed (or the timeout).
    // False when it timed out.
    bool wait_for_poll(bool exact) {
        std::unique_lock<std::mutex> lock(poll_mu);
        const std::uint64_t target = polls_begun + 1;
        // Set under poll_mu: the poll numbered `target` sees it.
        if (exact && !round_wanted.exchange(true) && wake_fd >= 0) {
            std::uint64_t one = 1;
            ssize_t w = ::write(wake_fd, &one, sizeof one);
            (void)w;
        }
        return poll_cv.wait_for(lock, options.replay_wait_timeout,
                                [&] { return polls_done >= target || stopping.load(); });
    }

    bool pending_for(const std::string &tenant, const std::vector<std::string> &domains) const {
        std::lock_guard<std::mutex> lock(gate_mu);
        if (gate.empty())
            return false;
        for (const std::string &d : domains)
            if (gate.pending_for(PairKey{tenant, d}))
                return true;
        return false;
    }

    void ping_if_quiet(detail::ListenerSession &session) {
        if (now_ms() - last_heard_ms.load() >= options.ping_interval.count()) {
            session.ping();
            bump(counters.pings);
            heard();
        }
    }

    // After LISTEN: which server is this? Another history than the last one
    // (a promoted standby, a restored backup, another cluster) drops the
    // whole map; the pairs it held are reloaded from the new server.
    std::vector<PairKey> check_identity(detail::ListenerSession &session) {
        detail::ServerIdentity id = detail::query_identity(session.connection());
        std::vector<PairKey> reset;
        if ((have_identity && !id.same_history(identity)) || force_reset) {
            reset = state.held_pairs();
            state.clear();
            bump(counters.failovers);
        }
        identity = id;
        have_identity = true;
        force_reset = false;
        return reset;
    }

    // Replica mode: the replica must be a copy of the listened primary (its
    // WAL positions are comparable), or that primary itself.
    void check_replica(detail::ReplicaLink &replica) {
        detail::ServerIdentity r = replica.identity();
        if (!r.system_id.empty() && !identity.system_id.empty() && r.system_id != identity.system_id)
            throw std::runtime_error("the replica is not a copy of the listened primary (" +
                                     r.describe() + " against " + identity.describe() + ")");
        if (!r.in_recovery && r.timeline != identity.timeline)
            throw std::runtime_error("the replica is a primary other than the listened one (" +
                                     r.describe() + " against " + identity.describe() + ")");
        replica_in_recovery = r.in_recovery;
    }

    // A reload of every held pair (and `extra`). Replica mode reads from the
    // replica, once it has replayed the primary's insert position read after
    // LISTEN: everything announced before LISTEN (not heard) is then there.
    void load(detail::ListenerSession &session, detail::ReplicaLink *replica,
              const std::vector<PairKey> &extra = {}) {
        if (replica) {
            const Lsn target = detail::query_insert_lsn(session.connection());
            while (poll_replica(session, *replica) < target) {
                if (stopping.load())
                    return;
                session.wait(options.replay_poll_interval, wake_fd);
                dispatch(session);
                ping_if_quiet(session);
            }
        }
        std::vector<PairKey> pairs = state.held_pairs();
        if (!extra.empty()) {
            std::unordered_set<PairKey, PairKeyHash> seen(pairs.begin(), pairs.end());
            for (const PairKey &p : extra)
                if (seen.insert(p).second)
                    pairs.push_back(p);
        }
        detail::LoadResult r = replica ? replica->load(pairs) : session.load(pairs);
        heard();
        bump(counters.loads);
        publish(state.apply_load(pairs, r.versions, r.global_domains));
        notify_health();
        // Notifications that arrived during the query.
        dispatch(session);
    }

    // Sleeps `d` unless woken by stop().
    void sleep_unless_stopped(std::chrono::milliseconds d);

    void session_loop(detail::ListenerSession &session, detail::ReplicaLink *replica) {
        auto next_resync = Clock::now() + options.resync_interval;
        while (!stopping.load()) {
            dispatch(session);
            pump(session, replica);
            if (reload_requested.exchange(false)) {
                load(session, replica);
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
            if (replica && round_wanted.load()) {
                timeout = std::chrono::milliseconds(0);
            } else if (replica && !gate_empty()) {
                auto until_poll =
                    std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
                timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_poll));
            }
            auto wake = session.wait(timeout, wake_fd);
            if (stopping.load())
                return;
            if (wake == detail::ListenerSession::Wake::Woken)
                drain_wake_fd();
            if (wake == detail::ListenerSession::Wake::Traffic)
                dispatch(session);
            pump(session, replica);
            ping_if_quiet(session);
            if (options.resync_interval.count() > 0 && Clock::now() >= next_resync) {
                load(session, replica);
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
                drain_wake_fd();
                {
                    std::lock_guard<std::mutex> lock(gate_mu);
                    gate.clear();  // the reload below covers whatever waited
                }
                unstamped.clear();
                std::vector<PairKey> reset = check_identity(session);
                std::unique_ptr<detail::ReplicaLink> replica;
                if (replica_mode()) {
                    replica = std::make_unique<detail::ReplicaLink>(options.replica_conninfo);
                    check_replica(*replica);
                }
                // After LISTEN: nothing said from here on is missed.
                load(session, replica.get(), reset);
                backoff.reset();
                session_loop(session, replica.get());
            } catch (const std::exception &e) {
                set_error(e.what());
            } catch (...) {
                set_error("unknown error in the listener");
            }
            state.mark_unhealthy();
            release_waiters();
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
    if (found.outcome == detail::WatcherState::Outcome::Local && impl_->replica_mode() &&
        (impl_->options.exact_lookups || impl_->pending_for(tenant, domains))) {
        // A version of these pairs waits for the replica, which may have
        // replayed it by now: the next replay poll tells (exact lookups: a
        // round begun after this call, with every notification delivered).
        bump(impl_->counters.lookup_waits);
        if (impl_->wait_for_poll(impl_->options.exact_lookups)) {
            found = impl_->state.lookup(tenant, domains, impl_->live());
        } else {
            // No poll in time (a slow listener): the replica answers.
            bump(impl_->counters.lookup_wait_timeouts);
            found.outcome = detail::WatcherState::Outcome::Unhealthy;
        }
    }
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
    c.gated = a.gated.load();
    c.replay_polls = a.replay_polls.load();
    c.lookup_waits = a.lookup_waits.load();
    c.lookup_wait_timeouts = a.lookup_wait_timeouts.load();
    c.failovers = a.failovers.load();
    {
        std::lock_guard<std::mutex> lock(impl_->gate_mu);
        c.gated_pending = impl_->gate.size();
    }
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
