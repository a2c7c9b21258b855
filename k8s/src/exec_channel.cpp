#include <kage/k8s/exec_channel.hpp>

#include <charconv>

namespace kage::k8s {

boost::system::result<exec_message> parse_exec_message(std::string_view payload,
                                                       channel_protocol protocol) {
  const auto bad = make_error_code(errc::bad_channel);
  if (payload.empty()) return bad;
  const auto channel = static_cast<std::uint8_t>(payload[0]);
  if (channel == exec_close_signal) {
    if (protocol != channel_protocol::v5 || payload.size() != 2) return bad;
    const auto stream = static_cast<std::uint8_t>(payload[1]);
    if (stream > static_cast<std::uint8_t>(exec_stream::resize_stream)) return bad;
    return exec_message{static_cast<exec_stream>(stream), true, {}};
  }
  if (channel > static_cast<std::uint8_t>(exec_stream::resize_stream)) return bad;
  return exec_message{static_cast<exec_stream>(channel), false, payload.substr(1)};
}

std::string exec_data(exec_stream stream, std::string_view data) {
  std::string out;
  out.reserve(1 + data.size());
  out.push_back(static_cast<char>(stream));
  out.append(data);
  return out;
}

std::string exec_resize(std::uint16_t width, std::uint16_t height) {
  // The kubelet decodes remotecommand.TerminalSize: {"Width":w,"Height":h}.
  return exec_data(exec_stream::resize_stream, "{\"Width\":" + std::to_string(width) +
                                                   ",\"Height\":" + std::to_string(height) + "}");
}

std::string exec_close(exec_stream stream) {
  return std::string{static_cast<char>(exec_close_signal), static_cast<char>(stream)};
}

boost::system::result<exec_result> parse_exec_status(std::string_view error_stream) {
  exec_result r;
  if (error_stream.empty()) return r;  // the stream closed without a word: success
  auto parsed = parse_status(error_stream);
  if (!parsed) return make_error_code(errc::malformed_status);
  r.st = std::move(*parsed);
  if (r.st.status == "Success") return r;
  if (r.st.status != "Failure") return make_error_code(errc::malformed_status);
  r.message = r.st.message;
  if (r.st.reason != "NonZeroExitCode") {
    r.how = exec_result::outcome::failure;
    return r;
  }
  for (const status_cause& c : r.st.details.causes) {
    if (c.reason != "ExitCode") continue;
    unsigned value = 0;
    const char* end = c.message.data() + c.message.size();
    auto [ptr, ec] = std::from_chars(c.message.data(), end, value);
    if (ec != std::errc() || ptr != end || c.message.empty() || value > 255)
      return make_error_code(errc::malformed_status);
    r.how = exec_result::outcome::exit_code;
    r.exit_code = static_cast<int>(value);
    return r;
  }
  return make_error_code(errc::malformed_status);  // NonZeroExitCode without an ExitCode cause
}

}  // namespace kage::k8s
