#include <kage/base/error.hpp>
#include <kage/proto/redis_error.hpp>
#include <kage/proto/sentinel.hpp>

#include <boost/asio/awaitable.hpp>

// The one coroutine of sentinel.hpp, apart from its parsers (sentinel.cpp has no IO: the
// fuzz build compiles it, and clang 14 cannot build coroutines with UBSan and coverage).
namespace kage::proto {

asio::awaitable<sentinel_answer> async_ask_sentinel(connection& conn, std::string name) {
  const std::string where = conn.remote().address();
  sentinel_answer answer;
  reply addr = co_await exec(conn, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name);
  if (addr.is_error()) {
    fail(exit_code::redis, classify_redis_error(addr.value).code,
         "sentinel " + where + " refused SENTINEL GET-MASTER-ADDR-BY-NAME: " + addr.value);
  }
  auto primary = parse_master_addr(addr);
  if (!primary) {
    fail(exit_code::redis, primary.error(),
         "sentinel " + where +
             " answered SENTINEL GET-MASTER-ADDR-BY-NAME with a reply kage "
             "cannot read");
  }
  answer.primary = *primary;
  if (!answer.primary) {
    reply masters = co_await exec(conn, "SENTINEL", "MASTERS");
    if (!masters.is_error()) {
      for (const auto& m : masters.elements) {
        if (const reply* n = m.find("name")) answer.known_masters.push_back(n->value);
      }
    }
    co_return answer;
  }
  reply replicas = co_await exec(conn, "SENTINEL", "REPLICAS", name);
  if (replicas.is_error()) {
    // Redis before 6.2 knows only the old name.
    replicas = co_await exec(conn, "SENTINEL", "SLAVES", name);
  }
  if (replicas.is_error()) {
    fail(exit_code::redis, classify_redis_error(replicas.value).code,
         "sentinel " + where + " refused SENTINEL REPLICAS: " + replicas.value);
  }
  auto parsed = parse_sentinel_replicas(replicas);
  if (!parsed) {
    fail(exit_code::redis, parsed.error(),
         "sentinel " + where + " answered SENTINEL REPLICAS with a reply kage cannot read");
  }
  answer.replicas = std::move(*parsed);
  co_return answer;
}

}  // namespace kage::proto
