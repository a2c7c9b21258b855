#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: candidates try
// to acquire or renew every retry period; a lease held by another is taken only once its record
// has not changed for leaseDurationSeconds as observed on the local clock (no clock sync needed);
// every write carries the resourceVersion read (a 409 means someone else wrote first). The leader
// stops acting when it could not renew within the renew deadline, which is shorter than the lease
// duration, so it has stopped before anyone else can take the lease.
#include <kage/base/log.hpp>
#include <kage/k8s/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace kage::k8s {

struct leader_election_config {
  std::string namespace_;  // empty: the client's namespace
  std::string name;        // the Lease's name
  std::string identity;    // this candidate (pod name); must be unique among candidates
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};  // < lease_duration
  std::chrono::milliseconds retry_period{2000};     // < renew_deadline
  bool release_on_cancel = true;  // a cancelled leader empties the holder so others need not wait
};

// The record in a Lease's spec (client-go's LeaderElectionRecord).
struct lease_record {
  std::string holder;
  std::int64_t lease_duration_seconds = 0;
  std::string acquire_time;  // RFC 3339 with microseconds
  std::string renew_time;
  std::int64_t transitions = 0;
};

class leader_elector {
 public:
  // Throws kage::failure (exit_code::usage) when the durations are inconsistent or a name is
  // missing.
  leader_elector(client& c, leader_election_config config, kage::logger log = {});

  // Campaigns until it holds the lease, then runs lead() while renewing. Returns when leadership
  // is lost (lead() is cancelled first and has ended) or when lead() returns (the lease is then
  // released). Cancelled from outside: lead() is cancelled, the lease released (when configured),
  // and operation_aborted thrown. Call again to campaign again.
  boost::asio::awaitable<void> async_run(std::function<boost::asio::awaitable<void>()> lead);

  bool is_leader() const noexcept { return leader_; }
  const std::string& observed_holder() const noexcept { return observed_.holder; }
  const leader_election_config& config() const noexcept { return config_; }

  // One attempt: acquire or renew the lease. True when this candidate holds it afterwards.
  boost::asio::awaitable<bool> async_try_acquire_or_renew();
  // Gives the lease up if this candidate holds it (holder emptied, duration 1 s).
  boost::asio::awaitable<void> async_release();

 private:
  boost::asio::awaitable<void> async_renew_until_lost();

  client& client_;
  leader_election_config config_;
  kage::logger log_;
  lease_record observed_;
  std::string observed_raw_;  // the spec as last seen, to notice any change
  std::chrono::steady_clock::time_point observed_time_{};
  bool leader_ = false;
};

}  // namespace kage::k8s
