#pragma once
// kage heal: the healer's loop from the command line (list the pods, plan, act, print).
#include "settings.hpp"

#include <kage/base/log.hpp>

#include <boost/asio/awaitable.hpp>

namespace kage::cli {

boost::asio::awaitable<int> run_heal(settings s, logger log);

}  // namespace kage::cli
