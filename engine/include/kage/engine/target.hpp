#pragma once
// The Redis deployment a job talks to: its seed nodes, how to connect, and its TLS context.
#include <kage/base/log.hpp>
#include <kage/proto/connection.hpp>
#include <kage/proto/topology.hpp>

#include <chrono>
#include <optional>

namespace kage::engine {

namespace asio = boost::asio;

// A deployment replicated by Redis Sentinel: the sentinels to ask and the master's name there.
// Such a deployment is one shard: the primary owns every slot; its replicas may be read.
struct sentinel_target {
  std::vector<proto::endpoint> nodes;
  std::string master_name = "mymaster";
  proto::redis_config config;  // the sentinels' own user/password; TLS and timeouts as Redis'
  std::chrono::milliseconds max_link_down{10000};  // replicas down longer are not read
};

struct redis_target {
  std::vector<proto::endpoint> seeds;  // empty in Sentinel mode: the sentinels name the nodes
  proto::redis_config config;
  std::shared_ptr<asio::ssl::context> tls;  // set by make_target when TLS is on
  std::optional<sentinel_target> sentinel;  // set: discover through Sentinel, no CLUSTER command
};

// What the user says about sentinels; no nodes means no Sentinel.
struct sentinel_options {
  std::vector<std::string> nodes;  // HOST:PORT
  std::string master_name = "mymaster";
  std::string user;
  std::optional<std::string> password;
};

// Parses "host:port" seeds (or sentinels) and builds the TLS context. Throws failure(usage).
redis_target make_target(const std::vector<std::string>& nodes, proto::redis_config config,
                         const sentinel_options& sentinel = {});

// Connects or throws failure(redis) with the connection's diagnostic.
asio::awaitable<std::unique_ptr<proto::connection>> async_connect(const redis_target& target,
                                                                  proto::endpoint ep);

struct cluster_view {
  proto::topology topology;
  std::string redis_version;  // of the first master
};

// Asks the seeds in order until one answers. Throws failure(redis) naming every seed tried,
// or when the cluster does not serve every slot. In Sentinel mode: asks every sentinel for the
// primary and its replicas (see proto/sentinel.hpp for whom it believes) and returns a
// one-master topology (cluster false) with the usable replicas; throws failure(redis) with a
// proto::sentinel_errc when no sentinel answers, none knows the name, or the primary named
// does not answer as one.
asio::awaitable<cluster_view> async_discover(const redis_target& target, const logger& log);

// Sentinel mode, after the primary went away: asks the sentinels again every half second until
// they name a primary that answers as one, or `timeout` passes (then throws failure(redis)
// with sentinel_errc::primary_lost naming `what_failed`).
asio::awaitable<cluster_view> async_await_primary(const redis_target& target,
                                                  std::chrono::milliseconds timeout,
                                                  std::string what_failed, const logger& log);

// Cluster mode, after a master went away: asks the seeds and every node of `known` every half
// second until every slot is served by a master that answers with cluster_state:ok (a replica
// promoted, or the node back), or `timeout` passes (then throws failure(redis) beginning with
// `what_failed`). A refused authentication is thrown at once.
asio::awaitable<cluster_view> async_await_cluster(const redis_target& target,
                                                  const proto::topology& known,
                                                  std::chrono::milliseconds timeout,
                                                  std::string what_failed, const logger& log);

}  // namespace kage::engine
