#pragma once
// The nodes.conf of each Kubernetes pod, kept in a backup beside its data (storage/FORMAT.md,
// section 8). Reading them (list + exec) is the caller's, through k8s/: the engine only stores
// what was read, so it never depends on the Kubernetes client.
#include <kage/base/log.hpp>
#include <kage/storage/manifest.hpp>
#include <kage/storage/store.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kage::engine {

namespace asio = boost::asio;

// One pod's file as read by exec, or why it could not be read (content then empty).
struct pod_file {
  std::string pod;
  std::string path;     // the file inside the pod
  std::string content;  // byte for byte
  std::string error;    // "" when read
};

// The node id on a nodes.conf's "myself" line; "" when there is none.
std::string nodes_conf_node_id(std::string_view text);

// "pods/<pod>.nodes.conf"
std::string pod_file_name(std::string_view pod);

// Stores every read file as <id>/pods/<pod>.nodes.conf and returns the manifest entries (sorted
// by pod), unread ones with their error. On a store failure removes what it stored and throws.
asio::awaitable<std::vector<storage::pod_node_config>> async_store_pod_files(
    std::shared_ptr<storage::store> store, std::string id, std::vector<pod_file> files, logger log);

}  // namespace kage::engine
