// What Redis Sentinel sends: the +switch-master pub/sub message (the whole input as its
// payload; what parses must print back to the same message), and every RESP reply in the input
// read as SENTINEL GET-MASTER-ADDR-BY-NAME and as SENTINEL REPLICAS / SENTINEL SENTINELS (one
// parser for both): only sentinel_errc::bad_reply may come out, and an address that parses
// has a host and a port in 1-65535.
#include <kage/proto/resp.hpp>
#include <kage/proto/sentinel.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kp = kage::proto;

namespace {

void check(const kp::endpoint& ep) {
  if (ep.host.empty() || ep.port == 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto m = kp::parse_switch_master(in)) {
    check(m->from);
    check(m->to);
    const std::string again = m->name + " " + m->from.host + " " + std::to_string(m->from.port) +
                              " " + m->to.host + " " + std::to_string(m->to.port);
    auto n = kp::parse_switch_master(again);
    if (!n || n->name != m->name || !(n->from == m->from) || !(n->to == m->to)) __builtin_trap();
  }

  kp::resp_limits limits;
  limits.max_bulk = 1 << 16;
  limits.max_elements = 1 << 12;
  limits.max_depth = 8;
  std::vector<kp::resp_node> nodes;
  std::size_t pos = 0;
  while (pos < in.size()) {
    nodes.clear();
    auto used = kp::parse_reply(in.substr(pos), nodes, limits);
    if (!used) break;
    pos += *used;
    const kp::reply r = kp::to_reply(nodes);
    if (auto a = kp::parse_master_addr(r)) {
      if (*a) check(**a);
    } else if (a.error() != kp::sentinel_errc::bad_reply) {
      __builtin_trap();
    }
    auto replicas = kp::parse_sentinel_replicas(r);
    if (!replicas) {
      if (replicas.error() != kp::sentinel_errc::bad_reply) __builtin_trap();
      continue;
    }
    std::vector<kp::endpoint> named;
    for (const auto& e : *replicas) {
      check(e.ep);
      (void)kp::usable_replica(e, 5000);
      named.push_back(e.ep);
    }
    if (auto vote = kp::vote_primary(named)) {
      if (vote->votes == 0 || vote->votes > named.size() || vote->answers != named.size() ||
          vote->dissenters.size() + vote->votes != named.size()) {
        __builtin_trap();
      }
    } else if (!named.empty()) {
      __builtin_trap();
    }
  }
  return 0;
}
