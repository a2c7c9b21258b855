#pragma once
// The healer's IO pieces shared by heal.cpp (observe, MEET/REPLICATE/FORGET, agreement) and
// heal_ops.cpp (the multi-step actions: create a cluster, close a stuck migration). Private to
// engine/.
#include <kage/engine/heal.hpp>
#include <kage/proto/connection.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kage::engine::heal_io {

// A command's words, built outside coroutine frames (GCC 12 miscompiles braced lists there).
template <class... Words>
std::vector<std::string> words(const Words&... w) {
  return {std::string(w)...};
}

// A pod's node (a plain function: GCC 12 mishandles braced temporaries in coroutine calls).
proto::endpoint pod_endpoint(const std::string& ip, int port);

// A node's own view, read now: CLUSTER NODES, DBSIZE and CLUSTER INFO. nullopt with `why` set
// when it does not answer or answers something else.
asio::awaitable<std::optional<heal_view>> async_read_view(const redis_target& target,
                                                          std::string ip, int port,
                                                          std::string& why);

const proto::cluster_nodes_line* find_line(const heal_view& v, const std::string& id);
const proto::cluster_nodes_line* self_line(const heal_view& v);

// Rule 6 and rule 5, carried out step by step after re-checking every node they touch; r comes
// in with the action set and leaves with acted/detail.
asio::awaitable<heal_result> async_create_cluster(const redis_target& target, heal_result r,
                                                  int port);
asio::awaitable<heal_result> async_close_migration(const redis_target& target, heal_result r,
                                                   int port);
// Rule 4: claim lost slots on an empty joined master; refill their keys from the backups.
asio::awaitable<heal_result> async_take_slots(const redis_target& target, heal_result r, int port);
asio::awaitable<heal_result> async_restore_slots(const redis_target& target, heal_result r,
                                                 int port, std::shared_ptr<storage::store> backups);

// What of a create_cluster or close_migration result the view does not show yet (empty: agrees).
std::string create_disagreement(const heal_action& a, const heal_view& v);
std::string migration_disagreement(const heal_action& a, const heal_view& v);
std::string take_disagreement(const heal_action& a, const heal_view& v);

}  // namespace kage::engine::heal_io
