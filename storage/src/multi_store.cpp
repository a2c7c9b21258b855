#include <kage/storage/multi_store.hpp>

#include <kage/base/error.hpp>

#include <boost/asio.hpp>

#include <map>

namespace kage::storage {

struct multi_store::shared {
  std::vector<location_state> locations;
  logger log;

  bool alive(std::size_t i) const noexcept { return !locations[i].failure; }

  // The first failure of any location, for when none is left.
  std::exception_ptr first_failure() const {
    for (const auto& l : locations)
      if (l.failure) return l.failure;
    return std::make_exception_ptr(failure(exit_code::store, "no backup location is configured"));
  }

  void drop(std::size_t i, std::exception_ptr e) {
    auto& l = locations[i];
    if (l.failure) return;
    l.failure = e;
    if (locations.size() > 1)  // with one location, the job's own failure says it all
      log.error(l.where->location(),
                "this copy failed and is dropped for the rest of the job (the other locations go "
                "on; the next job tries it again): " +
                    describe(e));
  }
};

bool is_cancellation(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const failure& f) {
    return f.code() == exit_code::interrupted;
  } catch (const boost::system::system_error& se) {
    return se.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

namespace {

using shared_state = std::shared_ptr<multi_store::shared>;

asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

// A store failure drops its location; a cancellation ends the job.
// (GCC 12 miscompiles a co_await inside a condition or a try block's if/else: keep each
// co_await a statement of its own.)
asio::awaitable<void> drop_or_rethrow(shared_state state, std::size_t index, std::exception_ptr e) {
  const bool job_cancelled = co_await cancelled();
  if (job_cancelled || is_cancellation(e)) std::rethrow_exception(e);
  state->drop(index, e);
}

struct branch {
  std::size_t index;  // into shared::locations
  std::unique_ptr<object_writer> writer;
};

// Cleanup of a dropped copy: best effort, as a destroyed writer's.
asio::awaitable<void> abort_quietly(shared_state state, branch& b) {
  std::exception_ptr e;
  try {
    co_await b.writer->async_abort();
  } catch (...) {
    e = std::current_exception();
  }
  if (e)
    state->log.warn(state->locations[b.index].where->location(),
                    "removing the dropped copy's partial object failed: " + describe(e));
}

// One branch's write or commit, with its failure as a value.
asio::awaitable<std::exception_ptr> async_write_to(object_writer& w, std::string_view bytes) {
  std::exception_ptr e;
  try {
    co_await w.async_write(bytes);
  } catch (...) {
    e = std::current_exception();
  }
  co_return e;
}

asio::awaitable<std::exception_ptr> async_commit_to(object_writer& w) {
  std::exception_ptr e;
  try {
    co_await w.async_commit();
  } catch (...) {
    e = std::current_exception();
  }
  co_return e;
}

class tee_writer final : public object_writer {
 public:
  tee_writer(shared_state state, std::vector<branch> branches)
      : state_(std::move(state)), branches_(std::move(branches)) {}

  asio::awaitable<void> async_write(std::string_view bytes) override {
    co_await async_each(false, bytes);
    written_ += bytes.size();
  }

  asio::awaitable<void> async_commit() override { co_await async_each(true, {}); }

  asio::awaitable<void> async_abort() override {
    std::exception_ptr first;
    for (auto& b : branches_) {
      try {
        co_await b.writer->async_abort();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    branches_.clear();
    if (first) std::rethrow_exception(first);
  }

  std::uint64_t bytes_written() const noexcept override { return written_; }

 private:
  // Writes (or commits) on every branch still in the job, one after the other: the bytes are
  // the same, and each store has its own backpressure (S3's parts in flight). A branch that
  // fails drops its location; only when none is left does the tee fail.
  asio::awaitable<void> async_each(bool commit, std::string_view bytes) {
    co_await drop_failed_elsewhere();
    std::exception_ptr last;
    for (std::size_t i = 0; i < branches_.size();) {
      object_writer& w = *branches_[i].writer;
      std::exception_ptr e;
      if (commit)
        e = co_await async_commit_to(w);
      else
        e = co_await async_write_to(w, bytes);
      if (!e) {
        ++i;
        continue;
      }
      co_await drop_or_rethrow(state_, branches_[i].index, e);
      last = e;
      co_await abort_quietly(state_, branches_[i]);
      branches_.erase(branches_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (branches_.empty()) std::rethrow_exception(last ? last : state_->first_failure());
  }

  // Another object of the job found a location failing: stop writing this one there too.
  asio::awaitable<void> drop_failed_elsewhere() {
    for (std::size_t i = 0; i < branches_.size();) {
      if (state_->alive(branches_[i].index)) {
        ++i;
        continue;
      }
      co_await abort_quietly(state_, branches_[i]);
      branches_.erase(branches_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (branches_.empty()) std::rethrow_exception(state_->first_failure());
  }

  shared_state state_;
  std::vector<branch> branches_;
  std::uint64_t written_ = 0;
};

}  // namespace

multi_store::multi_store(std::vector<std::shared_ptr<store>> locations, logger log)
    : state_(std::make_shared<shared>()) {
  for (auto& l : locations) state_->locations.push_back({std::move(l), nullptr});
  state_->log = std::move(log);
}

std::string multi_store::location() const {
  std::string out;
  for (const auto& l : state_->locations) out += (out.empty() ? "" : " + ") + l.where->location();
  return out;
}

const std::vector<location_state>& multi_store::locations() const noexcept {
  return state_->locations;
}

std::vector<std::shared_ptr<store>> multi_store::stores() const {
  std::vector<std::shared_ptr<store>> out;
  for (const auto& l : state_->locations) out.push_back(l.where);
  return out;
}

asio::awaitable<std::unique_ptr<object_writer>> multi_store::async_create(std::string key) {
  std::vector<branch> branches;
  std::exception_ptr last;
  for (std::size_t i = 0; i < state_->locations.size(); ++i) {
    if (!state_->alive(i)) continue;
    std::exception_ptr e;
    try {
      auto writer = co_await state_->locations[i].where->async_create(key);
      branches.push_back(branch{i, std::move(writer)});
    } catch (...) {
      e = std::current_exception();
    }
    if (!e) continue;
    co_await drop_or_rethrow(state_, i, e);
    last = e;
  }
  if (branches.empty()) std::rethrow_exception(last ? last : state_->first_failure());
  co_return std::make_unique<tee_writer>(state_, std::move(branches));
}

asio::awaitable<std::unique_ptr<object_reader>> multi_store::async_open(std::string key) {
  std::exception_ptr first;
  for (std::size_t i = 0; i < state_->locations.size(); ++i) {
    if (!state_->alive(i)) continue;
    std::unique_ptr<object_reader> reader;
    std::exception_ptr e;
    try {
      reader = co_await state_->locations[i].where->async_open(key);
    } catch (...) {
      e = std::current_exception();
    }
    if (!e) co_return reader;
    if (is_cancellation(e)) std::rethrow_exception(e);
    if (!first) first = e;
  }
  std::rethrow_exception(first ? first : state_->first_failure());
}

asio::awaitable<std::vector<object_info>> multi_store::async_list(std::string prefix) {
  std::map<std::string, object_info> merged;
  std::exception_ptr first;
  bool answered = false;
  for (std::size_t i = 0; i < state_->locations.size(); ++i) {
    if (!state_->alive(i)) continue;
    const auto& where = state_->locations[i].where;
    std::exception_ptr e;
    std::vector<object_info> listed;
    try {
      listed = co_await where->async_list(prefix);
      answered = true;
    } catch (...) {
      e = std::current_exception();
    }
    for (auto& o : listed) merged.emplace(o.key, std::move(o));
    if (!e) continue;
    if (is_cancellation(e)) std::rethrow_exception(e);
    state_->log.warn(where->location(), "cannot list this location: " + describe(e));
    if (!first) first = e;
  }
  if (!answered) std::rethrow_exception(first ? first : state_->first_failure());
  std::vector<object_info> out;
  out.reserve(merged.size());
  for (auto& [key, info] : merged) out.push_back(std::move(info));
  co_return out;
}

asio::awaitable<void> multi_store::async_remove(std::vector<std::string> keys) {
  // Dropped locations too: what a failed job wrote there (its claim, committed objects) must
  // go as well; their errors are expected and not the caller's.
  std::exception_ptr first;
  for (std::size_t i = 0; i < state_->locations.size(); ++i) {
    std::exception_ptr e;
    try {
      co_await state_->locations[i].where->async_remove(keys);
    } catch (...) {
      e = std::current_exception();
    }
    if (e && state_->alive(i) && !first) first = e;
  }
  if (first) std::rethrow_exception(first);
}

asio::awaitable<bool> multi_store::async_create_new(std::string key, std::string bytes) {
  std::vector<std::size_t> created;
  std::exception_ptr last;
  bool taken = false;
  for (std::size_t i = 0; i < state_->locations.size() && !taken; ++i) {
    if (!state_->alive(i)) continue;
    std::exception_ptr e;
    bool made = false;
    try {
      made = co_await state_->locations[i].where->async_create_new(key, bytes);
    } catch (...) {
      e = std::current_exception();
    }
    if (e) {
      co_await drop_or_rethrow(state_, i, e);
      last = e;
      continue;
    }
    if (made) {
      created.push_back(i);
    } else {
      taken = true;
    }
  }
  if (taken) {
    for (const std::size_t i : created) {
      std::vector<std::string> keys{key};
      try {
        co_await state_->locations[i].where->async_remove(std::move(keys));
      } catch (...) {
      }
    }
    co_return false;
  }
  if (created.empty()) std::rethrow_exception(last ? last : state_->first_failure());
  co_return true;
}

asio::awaitable<std::vector<leftover>> multi_store::async_list_leftovers() {
  std::vector<leftover> out;
  for (std::size_t i = 0; i < state_->locations.size(); ++i) {
    if (!state_->alive(i)) continue;
    auto found = co_await state_->locations[i].where->async_list_leftovers();
    out.insert(out.end(), found.begin(), found.end());
  }
  co_return out;
}

asio::awaitable<void> multi_store::async_remove_leftovers(std::vector<leftover> items) {
  for (std::size_t i = 0; i < state_->locations.size(); ++i) {
    if (!state_->alive(i)) continue;
    co_await state_->locations[i].where->async_remove_leftovers(items);
  }
}

}  // namespace kage::storage
