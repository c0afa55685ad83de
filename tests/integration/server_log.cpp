#include "server_log.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "harness.hpp"

namespace fcit {

std::string read_file_from(const std::string &path, std::streamoff offset) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return "";
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (offset > size)
        offset = 0;  // rotated or recreated
    in.seekg(offset);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::streamoff file_size(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? std::streamoff(st.st_size) : 0;
}

std::size_t count_occurrences(const std::string &text, const std::string &needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + needle.size()))
        n++;
    return n;
}

std::string lines_with(const std::string &text, const std::string &needle, int max) {
    std::istringstream in(text);
    std::string line, out;
    int n = 0;
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos && n++ < max)
            out += "    " + line + "\n";
    return out;
}

std::string last_lines(const std::string &text, std::size_t n) {
    std::istringstream in(text);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    std::string out;
    for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); i++)
        out += lines[i] + "\n";
    return out;
}

std::string server_log_path(pqxx::connection &c) {
    std::string data = query_str(c, "SHOW data_directory");
    auto slash = data.rfind('/');
    return (slash == std::string::npos ? std::string(".") : data.substr(0, slash)) +
           "/server.log";
}

}  // namespace fcit
