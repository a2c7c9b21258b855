#include <kage/storage/locations.hpp>
#include <kage/storage/multi_store.hpp>

#include <kage/base/error.hpp>

#include <boost/asio.hpp>

#include <map>

namespace kage::storage {

std::vector<merged_entry> merge_listings(const std::vector<location_listing>& listings) {
  std::map<std::string, merged_entry> by_id;
  for (std::size_t i = 0; i < listings.size(); ++i) {
    if (!listings[i]) continue;
    for (const auto& e : *listings[i]) {
      auto [it, fresh] = by_id.try_emplace(e.id, merged_entry{e, {}});
      if (!e.complete) continue;
      if (it->second.complete_in.empty() && !fresh) it->second.entry = e;  // first complete wins
      it->second.complete_in.push_back(i);
    }
  }
  std::vector<merged_entry> out;
  out.reserve(by_id.size());
  for (auto& [id, m] : by_id) out.push_back(std::move(m));
  return out;
}

std::vector<std::size_t> read_order(const std::vector<location_listing>& listings, std::string& id,
                                    const std::string& before, bool logical_only) {
  const auto merged = merge_listings(listings);
  for (auto it = merged.rbegin(); it != merged.rend(); ++it) {
    if (it->complete_in.empty()) continue;
    if (id.empty() && logical_only && it->entry.meta && it->entry.meta->kind == "snapshot")
      continue;
    if (!id.empty() && it->entry.id != id) continue;
    if (id.empty() && !before.empty() && it->entry.id >= before) continue;
    id = it->entry.id;
    return it->complete_in;
  }
  return {};
}

asio::awaitable<std::vector<location_listing>> async_list_locations(
    std::vector<std::shared_ptr<store>> stores, logger log) {
  std::vector<location_listing> out;
  for (const auto& s : stores) {
    std::vector<backup_entry> listed;
    std::exception_ptr e;
    try {
      listed = co_await async_list_backups(*s);
    } catch (...) {
      e = std::current_exception();
    }
    if (!e) {
      out.emplace_back(std::move(listed));
      continue;
    }
    if (is_cancellation(e)) std::rethrow_exception(e);
    if (stores.size() > 1)
      log.warn(s->location(), "cannot list this location, trying the next: " + describe(e));
    out.emplace_back(std::nullopt);
  }
  co_return out;
}

}  // namespace kage::storage
