#pragma once
// The Redis deployment a job talks to: its seed nodes, how to connect, and its TLS context.
#include <kage/base/log.hpp>
#include <kage/proto/connection.hpp>
#include <kage/proto/topology.hpp>

namespace kage::engine {

namespace asio = boost::asio;

struct redis_target {
  std::vector<proto::endpoint> seeds;
  proto::redis_config config;
  std::shared_ptr<asio::ssl::context> tls;  // set by make_target when TLS is on
};

// Parses "host:port" seeds and builds the TLS context. Throws failure(usage).
redis_target make_target(const std::vector<std::string>& nodes, proto::redis_config config);

// Connects or throws failure(redis) with the connection's diagnostic.
asio::awaitable<std::unique_ptr<proto::connection>> async_connect(const redis_target& target,
                                                                  proto::endpoint ep);

struct cluster_view {
  proto::topology topology;
  std::string redis_version;  // of the first master
};

// Asks the seeds in order until one answers. Throws failure(redis) naming every seed tried,
// or when the cluster does not serve every slot.
asio::awaitable<cluster_view> async_discover(const redis_target& target, const logger& log);

}  // namespace kage::engine
