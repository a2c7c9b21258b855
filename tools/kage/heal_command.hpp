#pragma once
// kage heal: the healer's loop from the command line (list the pods, plan, act, print).
#include "doctor.hpp"
#include "settings.hpp"

#include <kage/base/log.hpp>
#include <kage/engine/healer.hpp>
#include <kage/engine/http_server.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>

namespace kage::cli {

// open_store opens the backups rule 4 refills lost slots from (heal.refill_from_backup).
boost::asio::awaitable<int> run_heal(settings s, logger log, store_opener open_store);

// The healer's settings: pods, policy, interval, the Lease (heal.lease).
engine::healer_config healer_config_from(const settings& s, const k8s::client& api);
// heal.refill_from_backup: every backup location (--from, store.locations) as one store, read
// in order; null when the refill is off. Throws failure(usage) when it is on with no location.
std::shared_ptr<storage::store> heal_backups(const settings& s, boost::asio::any_io_executor ex,
                                             const logger& log, const store_opener& open_store);
// heal.identity (POD_NAME), else the host name: this instance in Leases and Events.
std::string instance_identity(const settings& s);
// heal.lease: auto means on when kage runs in a pod (in-cluster credentials); the Lease
// `lease_name` in heal.lease_namespace (else ns), client-go's timings scaled to its duration.
std::optional<k8s::leader_election_config> lease_from(const settings& s, const k8s::client& api,
                                                      const std::string& ns,
                                                      const std::string& lease_name);
// /metrics, /healthz and /readyz for kage heal and kage controller (--listen).
engine::http_handler metrics_handler(std::shared_ptr<engine::metrics_registry> m);
// Redis credentials and TLS for the pods' nodes.
engine::redis_target heal_target(const settings& s);

}  // namespace kage::cli
