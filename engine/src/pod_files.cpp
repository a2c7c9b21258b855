#include <kage/engine/pod_files.hpp>

#include <kage/storage/sha256.hpp>

#include <boost/asio.hpp>

#include <algorithm>

namespace kage::engine {

namespace {

// Outside the coroutine: GCC 12 mishandles lambdas created in coroutine bodies.
void sort_by_pod(std::vector<pod_file>& files) {
  std::sort(files.begin(), files.end(),
            [](const pod_file& a, const pod_file& b) { return a.pod < b.pod; });
}

}  // namespace

asio::awaitable<std::vector<storage::pod_node_config>> async_store_pod_files(
    std::shared_ptr<storage::store> store, std::string id, std::vector<pod_file> files,
    logger log) {
  sort_by_pod(files);
  std::vector<storage::pod_node_config> out;
  std::vector<std::string> stored;
  std::exception_ptr error;
  try {
    for (const auto& f : files) {
      storage::pod_node_config c;
      c.pod = f.pod;
      c.path = f.path;
      c.error = f.error;
      if (c.error.empty()) {
        c.node_id = nodes_conf_node_id(f.content);
        c.name = pod_file_name(f.pod);
        c.bytes = f.content.size();
        c.sha256 = storage::sha256_hex(f.content);
        auto writer = co_await store->async_create(id + "/" + c.name);
        co_await writer->async_write(f.content);
        co_await writer->async_commit();
        stored.push_back(id + "/" + c.name);
      }
      out.push_back(std::move(c));
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    try {
      if (!stored.empty()) co_await store->async_remove(stored);
    } catch (const std::exception& e) {
      log.warn(id, std::string("cleanup of the pods' nodes.conf failed: ") + e.what());
    }
    std::rethrow_exception(error);
  }
  co_return out;
}

}  // namespace kage::engine
