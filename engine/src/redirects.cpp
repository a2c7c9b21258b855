#include "redirects.hpp"

#include <kage/base/error.hpp>

#include <boost/asio.hpp>

namespace kage::engine {

redirect to_redirect(const proto::redis_error& e) {
  return {proto::endpoint{std::string(e.host), e.port}, e.code == proto::redis_errc::ask};
}

asio::awaitable<std::vector<proto::reply>> redirect_pool::async_send(
    redirect r, std::vector<std::string> commands) {
  auto& conn = connections_[r.node.address()];
  if (!conn) conn = co_await async_connect(target_, r.node);
  for (const auto& c : commands) {
    if (r.ask) proto::append_command(conn->output(), {"ASKING"});
    conn->output().append(c);
  }
  std::vector<proto::reply> replies;
  const std::size_t expected = commands.size() * (r.ask ? 2 : 1);
  for (std::size_t i = 0; i < expected; ++i) {
    std::span<const proto::resp_node> reply;
    if (auto ec = co_await conn->async_read(reply)) {
      fail(exit_code::redis, ec, proto::describe_transport_error(r.node, ec));
    }
    if (r.ask && i % 2 == 0) continue;  // ASKING's OK; a refusal shows in the next reply
    replies.push_back(proto::to_reply(reply));
  }
  co_return replies;
}

}  // namespace kage::engine
