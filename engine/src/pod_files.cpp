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

std::string nodes_conf_node_id(std::string_view text) {
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // <id> <ip:port@cport[,hostname]> <flags> ...: "myself" is one of the comma-separated flags.
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) continue;
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) continue;
    const auto sp3 = line.find(' ', sp2 + 1);
    const std::string_view flags = line.substr(
        sp2 + 1, sp3 == std::string_view::npos ? std::string_view::npos : sp3 - sp2 - 1);
    std::string_view rest = flags;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (rest.substr(0, comma) == "myself") return std::string(line.substr(0, sp1));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  return {};
}

std::string pod_file_name(std::string_view pod) {
  return "pods/" + std::string(pod) + ".nodes.conf";
}

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
