#pragma once
// kage controller: runs the RedisBackup resources of a namespace (or all) until SIGTERM.
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/engine/backup_controller.hpp>

#include <boost/asio/awaitable.hpp>

namespace kage::cli {

boost::asio::awaitable<int> run_controller(settings s, logger log, engine::store_opener open);

}  // namespace kage::cli
