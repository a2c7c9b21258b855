#include "client_kage.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kage::test {

process_result run_kage(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env,
                        std::chrono::seconds deadline) {
  std::vector<std::string> argv{kage_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, env, deadline);
}

boost::json::object json_result(const process_result& r) {
  std::string text = r.out;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const auto nl = text.rfind('\n');
  if (nl != std::string::npos) text = text.substr(nl + 1);
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object())
    throw std::runtime_error("kage did not print a JSON object:\n" + describe(r));
  return v.as_object();
}

std::vector<std::string> backup_ids(const std::string& dir) {
  std::vector<std::string> ids;
  if (!std::filesystem::exists(dir)) return ids;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_directory()) ids.push_back(e.path().filename().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

boost::json::object manifest(const std::string& dir, const std::string& id) {
  std::ifstream in(dir + "/" + id + "/manifest.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str()).as_object();
}

std::string describe(const process_result& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
         "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err;
}

std::vector<std::string> leftovers_of_failure(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name == "manifest.json" || name.find(".tmp-") != std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

std::string only_backup(const std::string& dir) {
  auto ids = backup_ids(dir);
  if (ids.size() != 1)
    throw std::runtime_error(dir + " holds " + std::to_string(ids.size()) +
                             " backups, expected one");
  return ids[0];
}

}  // namespace kage::test
