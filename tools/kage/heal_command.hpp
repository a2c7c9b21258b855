#pragma once
// kage heal: the healer's loop from the command line (list the pods, plan, act, print).
#include "doctor.hpp"
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/engine/healer.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace kage::cli {

// open_store opens the backups rule 4 refills lost slots from (heal.refill_from_backup).
boost::asio::awaitable<int> run_heal(settings s, logger log, store_opener open_store);

// The healer's settings: pods, policy, interval, the Lease (heal.lease).
engine::healer_config healer_config_from(const settings& s, const k8s::client& api);
// heal.refill_from_backup: every backup location (--from, store.locations) as one store, read
// in order; null when the refill is off. Throws failure(usage) when it is on with no location.
std::shared_ptr<storage::store> heal_backups(const settings& s, boost::asio::any_io_executor ex,
                                             const logger& log, const store_opener& open_store);
// Redis credentials and TLS for the pods' nodes.
engine::redis_target heal_target(const settings& s);

}  // namespace kage::cli
