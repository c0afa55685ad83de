// Reading a server's log (and other text files the tests write) from the
// point a test started watching.
#pragma once

#include <cstddef>
#include <ios>
#include <string>

#include <pqxx/pqxx>

namespace fcit {

// The contents of `path` from byte `offset` on ("" when it cannot be read;
// from the start when the file is shorter than `offset`: rotated or recreated).
std::string read_file_from(const std::string &path, std::streamoff offset);
// The size of `path` in bytes (0 when it does not exist).
std::streamoff file_size(const std::string &path);

// How often `needle` occurs in `text`.
std::size_t count_occurrences(const std::string &text, const std::string &needle);
// Lines of `text` containing `needle`, at most `max` of them, indented.
std::string lines_with(const std::string &text, const std::string &needle, int max = 6);
// The last `n` lines of `text`.
std::string last_lines(const std::string &text, std::size_t n);

// The server log of the cluster `c` is connected to (scripts/cluster.sh
// layout: <dir>/data is the data directory, <dir>/server.log the log).
std::string server_log_path(pqxx::connection &c);

}  // namespace fcit
