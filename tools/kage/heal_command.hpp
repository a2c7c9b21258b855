#pragma once
// kage heal: the healer's loop from the command line (list the pods, plan, act, print).
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/engine/healer.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace kage::cli {

boost::asio::awaitable<int> run_heal(settings s, logger log);

// The healer's settings: pods, policy, interval, the Lease (heal.lease).
engine::healer_config healer_config_from(const settings& s, const k8s::client& api);
// Redis credentials and TLS for the pods' nodes.
engine::redis_target heal_target(const settings& s);

}  // namespace kage::cli
