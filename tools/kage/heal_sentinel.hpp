#pragma once
// kage heal --sentinel ... --pods SELECTOR --once/--dry-run: one Sentinel round from a plain pod
// list (ask the sentinels, plan, act one action at a time, print). Without --once the healer
// (engine/healer.hpp) runs Sentinel rounds on its pod watch and interval: heal_command.cpp.
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/engine/sentinel_heal.hpp>

#include <boost/asio/awaitable.hpp>

namespace kage::cli {

boost::asio::awaitable<int> run_sentinel_heal_once(settings s, logger log);

// One round as text (or one JSON line with json_out) on stdout.
void print_sentinel_round(const engine::sentinel_heal_round& round, const std::string& master_name,
                          std::size_t pods, std::size_t sentinels, bool json_out);

}  // namespace kage::cli
