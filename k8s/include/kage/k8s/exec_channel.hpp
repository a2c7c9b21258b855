#pragma once
// The Kubernetes exec/attach channel protocol over WebSocket binary messages (v4.channel.k8s.io
// and v5.channel.k8s.io): the first byte of every message names a stream, the rest is its data.
// The error stream carries a Status that says how the command ended. v5 adds a close signal,
// [255, stream], that half-closes a stream (kage closes stdin to say "end of input").
#include <kage/k8s/error.hpp>
#include <kage/k8s/status.hpp>
#include <kage/k8s/websocket.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace kage::k8s {

enum class exec_stream : std::uint8_t {
  stdin_stream = 0,
  stdout_stream = 1,
  stderr_stream = 2,
  error_stream = 3,   // the Status saying how the command ended
  resize_stream = 4,  // terminal size, JSON {"Width":..,"Height":..}
};
inline constexpr std::uint8_t exec_close_signal = 255;  // v5 only

struct exec_message {
  exec_stream stream = exec_stream::stdout_stream;
  bool closed = false;    // v5 close signal: the server will send nothing more on stream
  std::string_view data;  // the stream's bytes (a view into the payload); empty when closed
};

// One binary message's payload from the server. An empty payload, an unknown stream, or a
// close signal under v4 or of the wrong length, is bad_channel.
boost::system::result<exec_message> parse_exec_message(std::string_view payload,
                                                       channel_protocol protocol);

// Payloads for binary messages to the server (frame them with ws_encode_frame).
std::string exec_data(exec_stream stream, std::string_view data);
std::string exec_resize(std::uint16_t width, std::uint16_t height);
std::string exec_close(exec_stream stream);  // v5 only: half-closes the stream (stdin: EOF)

// How the command ended, from everything the error stream carried.
struct exec_result {
  enum class outcome { success, exit_code, failure };
  outcome how = outcome::success;
  int exit_code = 0;    // outcome::exit_code: 1 to 255 (0 for success)
  std::string message;  // outcome::failure (and exit_code): the server's words
  status st;            // the Status as sent (empty for success without a Status)
};

// An empty stream or a Success: success. A Failure with reason NonZeroExitCode and a cause
// with reason ExitCode: exit_code. Any other Failure: failure, with the message. Text that is
// not a Status, or an exit code that is not 0-255: malformed_status (as client-go).
boost::system::result<exec_result> parse_exec_status(std::string_view error_stream);

}  // namespace kage::k8s
