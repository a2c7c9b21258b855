#pragma once
// Private: commands sent again to the node a MOVED/ASK names, for the backup and the restore
// alike. Rare (slots moving while a job runs), so one connection per named node, opened when
// first needed, with each command awaited before the next.
#include <kage/engine/target.hpp>
#include <kage/proto/redis_error.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kage::engine {

struct redirect {
  proto::endpoint node;
  bool ask = false;  // send ASKING before each command
};
// The node a classified MOVED/ASK names (is_redirect() must hold).
redirect to_redirect(const proto::redis_error& e);

class redirect_pool {
 public:
  explicit redirect_pool(const redis_target& target) : target_(target) {}

  // Sends each RESP-encoded command to r.node, after ASKING for an ASK, and returns their
  // replies in order (ASKING's are left out). Throws failure(redis) when the node cannot be
  // reached.
  asio::awaitable<std::vector<proto::reply>> async_send(redirect r,
                                                        std::vector<std::string> commands);

 private:
  const redis_target& target_;
  std::map<std::string, std::unique_ptr<proto::connection>> connections_;
};

}  // namespace kage::engine
