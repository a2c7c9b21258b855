#pragma once
#include <boost/system/error_code.hpp>

namespace kage::proto {

enum class errc {
  needs_more = 1,   // not an error: the reply is incomplete, read more bytes
  protocol_error,   // bytes that are not RESP
  too_large,        // a bulk string, line or aggregate over the configured cap
  too_deep,         // aggregates nested deeper than the cap
  timeout,          // connect or read deadline passed
  closed,           // the server closed the connection
  server_error,     // the server answered a raw-protocol request (SYNC) with an error line
  closed_at_hello,  // a plain-text connection closed before its first reply (a TLS port?)
  bad_node_id,      // a cluster reply names a node id that is not 40 lowercase hex characters
};

const boost::system::error_category& proto_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

}  // namespace kage::proto

template <>
struct boost::system::is_error_code_enum<kage::proto::errc> : std::true_type {};
