#include <kage/proto/error.hpp>

#include <string>

namespace kage::proto {
namespace {

struct category final : boost::system::error_category {
  const char* name() const noexcept override { return "kage.proto"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::needs_more:
        return "The reply is incomplete; more bytes are needed.";
      case errc::protocol_error:
        return "The server sent bytes that are not valid RESP.";
      case errc::too_large:
        return "A reply is larger than the configured limit.";
      case errc::too_deep:
        return "A reply nests aggregates deeper than the configured limit.";
      case errc::timeout:
        return "The server did not answer before the deadline.";
      case errc::closed:
        return "The server closed the connection.";
      case errc::server_error:
        return "The server answered with an error.";
      case errc::closed_at_hello:
        return "The server closed the connection before answering; it may expect TLS.";
      case errc::bad_node_id:
        return "The cluster named a node id that is not 40 lowercase hex characters.";
    }
    return "Unknown proto error.";
  }
};

}  // namespace

const boost::system::error_category& proto_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), proto_category()};
}

}  // namespace kage::proto
