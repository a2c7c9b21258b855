#pragma once
// Helpers shared by the cli_* tests: run load_settings on a word list, capture usage errors,
// and write YAML fixtures into a private temporary directory.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "kage/settings.hpp"

namespace kage::cli::test {

using env_map = std::map<std::string, std::string>;

inline settings load(const std::vector<std::string>& args, const env_map& env = {}) {
  std::vector<const char*> argv{"kage"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return load_settings(static_cast<int>(argv.size()), argv.data(), env);
}

// The usage_error message load() throws; fails the test when it does not throw.
inline std::string usage_message(const std::vector<std::string>& args, const env_map& env = {}) {
  try {
    load(args, env);
  } catch (const usage_error& e) {
    return e.what();
  }
  BOOST_ERROR("expected a usage_error");
  return "";
}

// A directory removed with everything in it when the test ends.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kage-cli-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace kage::cli::test
