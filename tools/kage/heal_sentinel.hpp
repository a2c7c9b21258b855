#pragma once
// kage heal --sentinel ... --pods SELECTOR: the Sentinel healer's loop from the command line
// (list the pods, ask the sentinels, plan, act one action at a time, print).
#include "settings.hpp"

#include <kage/base/log.hpp>

#include <boost/asio/awaitable.hpp>

namespace kage::cli {

boost::asio::awaitable<int> run_sentinel_heal(settings s, logger log);

}  // namespace kage::cli
