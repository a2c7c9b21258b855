#pragma once
// kage doctor: every check a deployment needs, one line each, with a fix where one fails.
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/storage/store.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kage::cli {

struct doctor_check {
  std::string check;   // "config", "redis", "cluster", "sentinel", "primary", "store",
                       // "kubernetes", "permission", "pods"
  std::string target;  // what was checked: an address, a location, "create pods/exec", ...
  std::string status;  // "ok", "fail", "skip"
  std::string detail;  // what was found, in a sentence
  std::string fix;     // when failed: what to do
};

// Opens one store location as the other commands do (credentials, TLS, S3 settings).
using store_opener = std::function<std::shared_ptr<storage::store>(
    const std::string& location, boost::asio::any_io_executor ex)>;

// Runs every check that applies to `s`, prints them (text or --json) and returns the exit code:
// 0 when none failed, 1 otherwise.
boost::asio::awaitable<int> run_doctor(settings s, logger log, store_opener open_store);

// The settings could not be loaded: prints the failed "config" check (argv asked for --json
// when json) and returns the exit code (usage).
int report_doctor_config_failure(const std::string& message, bool json);

}  // namespace kage::cli
