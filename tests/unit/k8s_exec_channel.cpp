// The exec channel layer: stream bytes, the v5 close signal, resize, and the error stream's
// Status read as success, exit code or failure.
#include "k8s_test_util.hpp"

#include <kage/k8s/exec_channel.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace k8s = kage::k8s;
using k8s::channel_protocol;
using k8s::exec_stream;
using k8s_test::errc_name;
using outcome = k8s::exec_result::outcome;

BOOST_AUTO_TEST_SUITE(k8s_exec_channel)

BOOST_AUTO_TEST_CASE(stream_messages) {
  for (auto protocol : {channel_protocol::v4, channel_protocol::v5}) {
    for (int ch = 0; ch <= 4; ++ch) {
      BOOST_TEST_CONTEXT("channel " << ch) {
        std::string payload(1, static_cast<char>(ch));
        payload += std::string("da\x00ta\xff", 6);
        auto m = k8s::parse_exec_message(payload, protocol);
        BOOST_REQUIRE(m);
        BOOST_TEST(static_cast<int>(m->stream) == ch);
        BOOST_TEST(!m->closed);
        BOOST_TEST(m->data == std::string_view(payload).substr(1));
      }
    }
    // A message with only the channel byte carries no data (the server opens streams this way).
    auto empty = k8s::parse_exec_message(std::string(1, '\x01'), protocol);
    BOOST_REQUIRE(empty);
    BOOST_TEST(empty->data.empty());
  }
}

BOOST_AUTO_TEST_CASE(close_signal_is_v5_only) {
  auto m = k8s::parse_exec_message(std::string("\xff\x01", 2), channel_protocol::v5);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->closed);
  BOOST_TEST((m->stream == exec_stream::stdout_stream));
  BOOST_TEST(m->data.empty());
  auto v4 = k8s::parse_exec_message(std::string("\xff\x01", 2), channel_protocol::v4);
  BOOST_REQUIRE(!v4);
  BOOST_TEST(errc_name(v4.error()) == "bad_channel");
}

BOOST_AUTO_TEST_CASE(bad_messages) {
  const std::vector<std::string> cases = {
      "",
      std::string("\x05x", 2),
      std::string("\x80x", 2),
      std::string("\xfe", 1),
      std::string("\xff", 1),          // close without a stream
      std::string("\xff\x01\x02", 3),  // close with extra bytes
      std::string("\xff\x05", 2),      // close of an unknown stream
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("payload of " << c.size() << " bytes") {
      auto m = k8s::parse_exec_message(c, channel_protocol::v5);
      BOOST_REQUIRE(!m);
      BOOST_TEST(errc_name(m.error()) == "bad_channel");
    }
  }
}

BOOST_AUTO_TEST_CASE(outgoing_payloads) {
  BOOST_TEST(k8s::exec_data(exec_stream::stdin_stream, "PING\r\n") ==
             std::string("\x00PING\r\n", 7));
  BOOST_TEST(k8s::exec_data(exec_stream::stdin_stream, "") == std::string(1, '\0'));
  BOOST_TEST(k8s::exec_resize(80, 24) == "\x04{\"Width\":80,\"Height\":24}");
  BOOST_TEST(k8s::exec_resize(65535, 0) == "\x04{\"Width\":65535,\"Height\":0}");
  BOOST_TEST(k8s::exec_close(exec_stream::stdin_stream) == std::string("\xff\x00", 2));
  // What kage sends, the channel parser reads back (as the fake API server will).
  auto back =
      k8s::parse_exec_message(k8s::exec_close(exec_stream::stdin_stream), channel_protocol::v5);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->closed);
  BOOST_TEST((back->stream == exec_stream::stdin_stream));
}

BOOST_AUTO_TEST_CASE(status_success) {
  auto empty = k8s::parse_exec_status("");
  BOOST_REQUIRE(empty);
  BOOST_TEST((empty->how == outcome::success));
  auto ok = k8s::parse_exec_status(R"({"metadata":{},"status":"Success"})");
  BOOST_REQUIRE(ok);
  BOOST_TEST((ok->how == outcome::success));
  BOOST_TEST(ok->exit_code == 0);
}

BOOST_AUTO_TEST_CASE(status_exit_code) {
  // As the kubelet sends it for `sh -c 'exit 3'`.
  auto r = k8s::parse_exec_status(
      R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
  BOOST_REQUIRE(r);
  BOOST_TEST((r->how == outcome::exit_code));
  BOOST_TEST(r->exit_code == 3);
  BOOST_TEST(r->message ==
             "command terminated with non-zero exit code: error executing command [sh -c exit "
             "3], exit code 3");
  // Other causes before the ExitCode one are skipped.
  auto r2 = k8s::parse_exec_status(
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"Other","message":"x"},{"reason":"ExitCode","message":"255"}]}})");
  BOOST_REQUIRE(r2);
  BOOST_TEST(r2->exit_code == 255);
}

BOOST_AUTO_TEST_CASE(status_failure_keeps_the_message) {
  auto r = k8s::parse_exec_status(
      R"({"metadata":{},"status":"Failure","message":"OCI runtime exec failed: exec failed: unable to start container process: exec: \"redis-cli\": executable file not found in $PATH: unknown","reason":"InternalError","code":500})");
  BOOST_REQUIRE(r);
  BOOST_TEST((r->how == outcome::failure));
  BOOST_TEST(r->message.find("executable file not found in $PATH") != std::string::npos);
  BOOST_TEST((r->st.error() == k8s::api_errc::internal_error));
}

BOOST_AUTO_TEST_CASE(status_protocol_errors) {
  const std::vector<std::string> cases = {
      "not json",
      "[]",
      R"({"status":"Maybe"})",
      R"({"kind":"Status"})",  // neither Success nor Failure
      R"({"status":"Failure","reason":"NonZeroExitCode"})",
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[]}})",
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":""}]}})",
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"abc"}]}})",
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"256"}]}})",
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"-1"}]}})",
      R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3 "}]}})",
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("error stream " << c) {
      auto r = k8s::parse_exec_status(c);
      BOOST_REQUIRE(!r);
      BOOST_TEST(errc_name(r.error()) == "malformed_status");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
