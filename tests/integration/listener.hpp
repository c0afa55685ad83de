// A LISTENing connection of its own that collects the notifications it
// receives, decoded (notify_json.hpp), and keeps every invalid payload.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "notify_json.hpp"

namespace fcit {

class Listener {
  public:
    Listener();
    ~Listener();
    Listener(const Listener &) = delete;
    Listener &operator=(const Listener &) = delete;

    // LISTEN (at once: libpqxx issues it when the receiver is created).
    void listen(const std::string &channel);

    // Collects notifications until done() holds or `timeout` passes.
    bool wait_for(const std::function<bool()> &done, milliseconds timeout);
    // Collects notifications for `d`.
    void collect_for(milliseconds d);

    const std::vector<Note> &notes() const { return notes_; }
    void clear() { notes_.clear(); }
    // Every payload that was not valid, since the start (never cleared).
    const std::vector<Note> &invalid() const { return invalid_; }

  private:
    class Receiver;

    std::unique_ptr<pqxx::connection> conn_;
    std::vector<Note> notes_;
    std::vector<Note> invalid_;
    std::vector<std::unique_ptr<Receiver>> receivers_;
};

}  // namespace fcit
