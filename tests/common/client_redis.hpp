#pragma once
// A synchronous, binary-safe Redis client for tests, built on kage's proto connection: load
// data of every type, and snapshot every key (type, DEBUG DIGEST-VALUE, PTTL) to compare a
// restored cluster with its source.
#include <kage/engine/target.hpp>

#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kage::test {

using command = std::vector<std::string>;

struct key_state {
  std::string type;
  std::string digest;  // DEBUG DIGEST-VALUE (servers need --enable-debug-command yes)
  std::int64_t pttl = -1;
  bool operator==(const key_state& o) const { return type == o.type && digest == o.digest; }
};

class test_client {
 public:
  // seed: any node ("host:port"); config: auth/TLS as kage would use them.
  explicit test_client(const std::string& seed, proto::redis_config config = {});
  ~test_client();

  // Runs a command on the master that owns args[1] (a key); other commands go to the seed.
  proto::reply exec(const command& args);
  proto::reply exec_on(const std::string& address, const command& args);
  // Sends each command to the master owning its key (args[1]), pipelined; throws on any error
  // reply.
  void load(const std::vector<command>& commands);
  std::vector<std::string> masters();  // addresses, in slot order (topology re-read each call)
  std::map<std::string, key_state> snapshot();
  std::size_t dbsize();  // summed over masters

 private:
  proto::connection& conn(const std::string& address);
  void refresh();
  template <class T>
  T run(boost::asio::awaitable<T> task);

  boost::asio::io_context ioc_;
  engine::redis_target target_;
  proto::topology topology_;
  std::map<std::string, std::unique_ptr<proto::connection>> connections_;
};

// Data of every type with binary keys and values, hash tags, TTLs (and a stream consumer
// group); returns the commands so callers can add to them. `prefix` keeps sets apart.
std::vector<command> every_type_commands(const std::string& prefix, int copies);

// SETs of n keys prefix0..prefix<n-1>, each `size` random bytes (incompressible): data that
// makes objects as large as the keyspace.
std::vector<command> random_keys(const std::string& prefix, int n, std::size_t size);

}  // namespace kage::test
