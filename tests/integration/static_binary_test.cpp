// The static kage binary (tools/test.sh builds it into build-static) backs up a local Redis
// from an empty root: a chroot holding only the binary, /etc/hosts and /tmp.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

using namespace kage::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string static_binary() {
  const char* p = std::getenv("KAGE_STATIC_BINARY");
  return p ? p : "";
}

bool skip_reason(std::string& why) {
  const auto bin = static_binary();
  if (bin.empty() || !fs::exists(bin)) {
    why = "SKIPPED: no static kage at '" + bin +
          "' (KAGE_STATIC_BINARY); tools/test.sh builds it with -DKAGE_STATIC=ON into "
          "build-static";
    return true;
  }
  if (::geteuid() != 0) {
    why = "SKIPPED: chroot needs root";
    return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(static_binary_backs_up_from_an_empty_root) {
  std::string why;
  if (skip_reason(why)) {
    BOOST_TEST_MESSAGE(why);
    return;
  }
  // No dynamic loader, no shared libraries.
  auto ldd = run_process({"ldd", static_binary()});
  BOOST_TEST(ldd.out.find("=>") == std::string::npos, ldd.out + ldd.err);

  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(every_type_commands("st:", 10));

  temp_dir root("static-root");
  fs::create_directories(root.file("etc"));
  fs::create_directories(root.file("tmp"));
  fs::create_directories(root.file("backups"));
  fs::copy_file(static_binary(), root.file("kage"));
  fs::permissions(root.file("kage"), fs::perms::owner_all);
  write_file(root.file("etc/hosts"), "127.0.0.1 localhost\n::1 localhost ip6-localhost\n");

  const std::string port = std::to_string(server.port());
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto r = run_process({"chroot", root.path(), "/kage", "backup", "--node", host + ":" + port,
                          "--to", "/backups", "--json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, host + ": " + describe(r));
    const std::string id(json_result(r).at("id").as_string());
    auto m = manifest(root.file("backups"), id);
    BOOST_TEST(m.at("total_keys").to_number<std::int64_t>() > 0, host);
    r = run_process({"chroot", root.path(), "/kage", "verify", "--from", "/backups", "--id", id});
    BOOST_TEST(r.exit_code == 0, host + ": " + describe(r));
  }
}
