#include "client_redis.hpp"

#include <kage/base/error.hpp>
#include <kage/proto/crc16.hpp>

#include <boost/asio.hpp>

#include <random>
#include <stdexcept>

namespace kage::test {

namespace asio = boost::asio;

test_client::test_client(const std::string& seed, proto::redis_config config) {
  target_ = engine::make_target({seed}, std::move(config));
  refresh();
}

test_client::~test_client() {
  for (auto& [_, c] : connections_) c->close();
  ioc_.poll();
}

template <class T>
T test_client::run(asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(ioc_, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
    done = true;
  });
  // run_one: connection watchdogs keep the context busy, so run() would never return.
  while (!done) ioc_.run_one();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

void test_client::refresh() {
  topology_ = run([](engine::redis_target t) -> asio::awaitable<proto::topology> {
    auto view = co_await engine::async_discover(t, logger());
    co_return view.topology;
  }(target_));
}

proto::connection& test_client::conn(const std::string& address) {
  auto& c = connections_[address];
  if (!c || !c->is_open()) {
    auto ep = parse_endpoint(address);
    if (!ep) throw std::runtime_error("bad address " + address);
    c = run(engine::async_connect(target_, *ep));
  }
  return *c;
}

std::vector<std::string> test_client::masters() {
  refresh();
  std::vector<std::string> out;
  for (const auto* m : topology_.masters()) out.push_back(m->ep.address());
  return out;
}

proto::reply test_client::exec_on(const std::string& address, const command& args) {
  auto& c = conn(address);
  return run(kage::proto::exec(c, args));
}

proto::reply test_client::exec(const command& args) {
  std::string address = topology_.masters().front()->ep.address();
  if (args.size() > 1) {
    const auto owners = topology_.slot_owners();
    address = topology_.masters()[owners[proto::key_slot(args[1])]]->ep.address();
  }
  return exec_on(address, args);
}

namespace {

// The key a command is about: where a cluster routes it.
std::string key_of(const command& cmd) {
  if (cmd.size() > 2 && cmd[0] == "XGROUP") return cmd[2];
  if (cmd[0] == "XREADGROUP") {
    for (std::size_t i = 1; i + 1 < cmd.size(); ++i) {
      if (cmd[i] == "STREAMS") return cmd[i + 1];
    }
  }
  return cmd.size() > 1 ? cmd[1] : "";
}

}  // namespace

void test_client::load(const std::vector<command>& commands) {
  const auto owners = topology_.slot_owners();
  const auto ms = topology_.masters();
  std::map<std::string, std::vector<const command*>> per_master;
  for (const auto& cmd : commands) {
    const std::string key = key_of(cmd);
    per_master[ms[owners[proto::key_slot(key)]]->ep.address()].push_back(&cmd);
  }
  for (auto& [address, cmds] : per_master) {
    auto& c = conn(address);
    std::size_t sent = 0;
    while (sent < cmds.size()) {
      const std::size_t n = std::min<std::size_t>(1000, cmds.size() - sent);
      for (std::size_t i = 0; i < n; ++i) {
        const auto& cmd = *cmds[sent + i];
        std::vector<std::string_view> views(cmd.begin(), cmd.end());
        proto::append_command(c.output(), views);
      }
      run([](proto::connection& conn, std::size_t count,
             std::vector<const command*> batch) -> asio::awaitable<int> {
        for (std::size_t i = 0; i < count; ++i) {
          std::span<const proto::resp_node> r;
          if (auto ec = co_await conn.async_read(r)) throw std::runtime_error(ec.message());
          if (r[0].type == proto::resp_type::error) {
            throw std::runtime_error("load: " + (*batch[i])[0] + " " + (*batch[i])[1] + ": " +
                                     std::string(r[0].value));
          }
        }
        co_return 0;
      }(c, n, std::vector<const command*>(cmds.begin() + sent, cmds.begin() + sent + n)));
      sent += n;
    }
  }
}

std::size_t test_client::dbsize() {
  std::size_t total = 0;
  for (const auto& m : masters()) {
    total += static_cast<std::size_t>(std::stoll(exec_on(m, {"DBSIZE"}).value));
  }
  return total;
}

std::map<std::string, key_state> test_client::snapshot() {
  std::map<std::string, key_state> out;
  for (const auto& m : masters()) {
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      auto r = exec_on(m, {"SCAN", cursor, "COUNT", "1000"});
      if (r.is_error()) throw std::runtime_error("SCAN: " + r.value);
      cursor = r.elements[0].value;
      for (auto& k : r.elements[1].elements) keys.push_back(k.value);
    } while (cursor != "0");
    for (const auto& k : keys) {
      auto type = exec_on(m, {"TYPE", k});
      auto digest = exec_on(m, {"DEBUG", "DIGEST-VALUE", k});
      auto pttl = exec_on(m, {"PTTL", k});
      if (digest.is_error()) throw std::runtime_error("DEBUG DIGEST-VALUE: " + digest.value);
      key_state s;
      s.type = type.value;
      s.digest = digest.elements.empty() ? "" : digest.elements[0].value;
      s.pttl = std::stoll(pttl.value);
      out[k] = s;
    }
  }
  return out;
}

std::vector<command> every_type_commands(const std::string& p, int copies) {
  std::vector<command> c;
  const std::string binary("\x00\r\n\xff\xfe bin", 9);
  for (int i = 0; i < copies; ++i) {
    const std::string n = std::to_string(i);
    c.push_back({"SET", p + "str:" + n, "value-" + n});
    c.push_back({"SET", p + "bin:" + binary + n, binary + "value" + binary});
    c.push_back({"HSET", p + "hash:" + n, "f1", "v1", "f2", binary, binary, "x"});
    c.push_back({"RPUSH", p + "list:" + n, "a", "b", binary, "d"});
    c.push_back({"SADD", p + "set:" + n, "m1", "m2", binary});
    c.push_back({"ZADD", p + "zset:" + n, "1", "one", "2.5", "two", "-3", binary});
    c.push_back({"SET", p + "{tag" + n + "}:a", "tagged-a"});
    c.push_back({"SET", p + "{tag" + n + "}:b", "tagged-b"});
    c.push_back({"SET", p + "ttl:" + n, "expiring", "PX", std::to_string(600000 + i)});
    c.push_back({"HSET", p + "ttlhash:" + n, "f", "v"});
    c.push_back({"PEXPIRE", p + "ttlhash:" + n, "900000"});
    c.push_back({"SET", p + "int:" + n, std::to_string(1000 + i)});
    // A hashtable-encoded hash and set (more than 128 entries) and a skiplist zset.
    if (i == 0) {
      command big_hash{"HSET", p + "bighash"};
      command big_set{"SADD", p + "bigset"};
      command big_zset{"ZADD", p + "bigzset"};
      for (int j = 0; j < 300; ++j) {
        big_hash.push_back("field" + std::to_string(j));
        big_hash.push_back(std::string(100, static_cast<char>('a' + j % 26)));
        big_set.push_back("member" + std::to_string(j));
        big_zset.push_back(std::to_string(j));
        big_zset.push_back("zm" + std::to_string(j));
      }
      c.push_back(big_hash);
      c.push_back(big_set);
      c.push_back(big_zset);
      c.push_back({"XADD", p + "stream", "1-1", "field", "v1"});
      c.push_back({"XADD", p + "stream", "2-1", "field", binary});
      c.push_back({"XADD", p + "stream", "3-1", "f", "v3"});
      c.push_back({"XGROUP", "CREATE", p + "stream", "workers", "0"});
      c.push_back(
          {"XREADGROUP", "GROUP", "workers", "alice", "COUNT", "2", "STREAMS", p + "stream", ">"});
    }
  }
  return c;
}

std::vector<command> random_keys(const std::string& prefix, int n, std::size_t size) {
  std::mt19937_64 rng(42);
  std::vector<command> c;
  c.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::string v(size, ' ');
    for (auto& ch : v) ch = static_cast<char>(rng());
    c.push_back({"SET", prefix + std::to_string(i), v});
  }
  return c;
}

}  // namespace kage::test
