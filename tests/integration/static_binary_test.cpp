// The static kage binary (tools/test.sh builds it into build-static) backs up a local Redis
// from an empty root: a chroot holding only the binary, /etc/hosts and /tmp.
#include <boost/test/unit_test.hpp>

#include "client_kage.hpp"
#include "client_redis.hpp"
#include "fixture_redis.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/algorithm/string/join.hpp>

#include <algorithm>
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

// The release image itself (tools/release-image.sh builds it FROM scratch with podman beside the
// static binary, and unpacks it): only /kage and the CA bundle, run as its unprivileged user.
BOOST_AUTO_TEST_CASE(release_image_runs_as_its_user) {
  std::string why;
  if (skip_reason(why)) {
    BOOST_TEST_MESSAGE(why);
    return;
  }
  const fs::path image = fs::path(static_binary()).parent_path().parent_path() / "image";
  // tools/test.sh always builds the image after the static binary: missing is a failure.
  BOOST_TEST_REQUIRE(fs::exists(image / "config.json"),
                     "no release image at " + image.string() + ": run tools/release-image.sh");
  const json::object config =
      json::parse(read_file((image / "config.json").string())).as_object().at("config").as_object();
  BOOST_TEST(config.at("User").as_string() == "65532:65532");
  BOOST_TEST(config.at("Entrypoint") == json::value(json::array{"/kage"}));
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(image / "rootfs"))
    if (!e.is_directory()) files.push_back(fs::relative(e.path(), image / "rootfs").string());
  std::sort(files.begin(), files.end());
  BOOST_TEST(files == (std::vector<std::string>{"etc/ssl/certs/ca-certificates.crt", "kage"}),
             boost::algorithm::join(files, ", "));
  BOOST_TEST(fs::file_size(image / "kage-image.oci.tar") < 20u << 20);

  // A copy of the image's root, plus what Kubernetes mounts (/etc/hosts, a writable volume).
  temp_dir root("image-root");
  fs::copy(image / "rootfs", root.path(), fs::copy_options::recursive);
  fs::permissions(root.path(), fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
  fs::create_directories(root.file("backups"));
  write_file(root.file("etc/hosts"), "127.0.0.1 localhost\n");
  BOOST_TEST_REQUIRE(::chown(root.file("backups").c_str(), 65532, 65532) == 0);
  const std::string user = std::string(config.at("User").as_string());
  auto version = run_process({"chroot", "--userspec=" + user, root.path(), "/kage", "version"});
  BOOST_TEST(version.exit_code == 0, describe(version));
  BOOST_TEST(contains(version.out, "kage "), version.out);

  redis_server server(redis_options{});
  test_client c(server.address());
  c.load(every_type_commands("img:", 5));
  auto r = run_process({"chroot", "--userspec=" + user, root.path(), "/kage", "backup", "--node",
                        server.address(), "--to", "/backups", "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, describe(r));
  const std::string id(json_result(r).at("id").as_string());
  BOOST_TEST(manifest(root.file("backups"), id).at("total_keys").to_number<std::int64_t>() > 0);
  // Written by the image's user, private to it.
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(root.file("backups/" + id).c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == 65532u);
}
