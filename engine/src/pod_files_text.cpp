// The text parts of pod_files.hpp, without IO (the fuzz build compiles this file; clang 14
// cannot build the coroutine of pod_files.cpp with UBSan and coverage).
#include <kage/engine/pod_files.hpp>

namespace kage::engine {

std::string nodes_conf_node_id(std::string_view text) {
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // <id> <ip:port@cport[,hostname]> <flags> ...: "myself" is one of the comma-separated flags.
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) continue;
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) continue;
    const auto sp3 = line.find(' ', sp2 + 1);
    const std::string_view flags = line.substr(
        sp2 + 1, sp3 == std::string_view::npos ? std::string_view::npos : sp3 - sp2 - 1);
    std::string_view rest = flags;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (rest.substr(0, comma) == "myself") return std::string(line.substr(0, sp1));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  return {};
}

std::string pod_file_name(std::string_view pod) {
  return "pods/" + std::string(pod) + ".nodes.conf";
}

}  // namespace kage::engine
