#include <kage/proto/redis_error.hpp>

#include <charconv>
#include <string>

namespace kage::proto {
namespace {

struct category final : boost::system::error_category {
  const char* name() const noexcept override { return "kage.redis"; }
  std::string message(int ev) const override {
    switch (static_cast<redis_errc>(ev)) {
      case redis_errc::moved:
        return "The slot is served by another master (MOVED).";
      case redis_errc::ask:
        return "The slot is migrating to another master (ASK).";
      case redis_errc::clusterdown:
        return "The cluster is down (CLUSTERDOWN).";
      case redis_errc::tryagain:
        return "The cluster asked to try again (TRYAGAIN).";
      case redis_errc::loading:
        return "The server is loading its dataset (LOADING).";
      case redis_errc::masterdown:
        return "The replica's link to its master is down (MASTERDOWN).";
      case redis_errc::busy:
        return "The server is busy running a script (BUSY).";
      case redis_errc::readonly:
        return "The server is a read-only replica (READONLY).";
      case redis_errc::noperm:
        return "The ACL user lacks a permission (NOPERM).";
      case redis_errc::noauth:
        return "The server requires authentication (NOAUTH).";
      case redis_errc::wrongpass:
        return "The server refused the user name or password.";
      case redis_errc::no_password_set:
        return "A password was sent to a server that has none configured.";
      case redis_errc::busykey:
        return "The key already exists (BUSYKEY).";
      case redis_errc::unknown_command:
        return "The server does not know the command.";
      case redis_errc::bad_payload:
        return "The server rejected a DUMP payload.";
      case redis_errc::library_exists:
        return "A function library already exists.";
      case redis_errc::cluster_disabled:
        return "The server has cluster support disabled.";
      case redis_errc::other:
        return "The server answered with an error.";
    }
    return "Unknown Redis error.";
  }
};

bool starts_with_nocase(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// "<slot> <host>:<port>" after MOVED/ASK; "[v6]:port" is accepted too.
bool parse_redirect(std::string_view args, redis_error& e) noexcept {
  const auto space = args.find(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view slot = args.substr(0, space);
  std::string_view address = args.substr(space + 1);
  int s = -1;
  auto [sp, sec] = std::from_chars(slot.data(), slot.data() + slot.size(), s);
  if (sec != std::errc{} || sp != slot.data() + slot.size() || s < 0 || s >= 16384) return false;
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned p = 0;
  auto [pp, pec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (host.empty() || pec != std::errc{} || pp != port.data() + port.size() || p == 0 ||
      p > 65535) {
    return false;
  }
  e.slot = s;
  e.host = host;
  e.port = static_cast<std::uint16_t>(p);
  return true;
}

redis_errc classify_code(std::string_view t) noexcept {
  // The leading word is the error class Redis defines; "ERR" covers the rest, told apart by
  // the fixed sentences Redis uses for them.
  const std::string_view word = t.substr(0, t.find(' '));
  if (word == "MOVED") return redis_errc::moved;
  if (word == "ASK") return redis_errc::ask;
  if (word == "CLUSTERDOWN") return redis_errc::clusterdown;
  if (word == "TRYAGAIN") return redis_errc::tryagain;
  if (word == "LOADING") return redis_errc::loading;
  if (word == "MASTERDOWN") return redis_errc::masterdown;
  if (word == "BUSY") return redis_errc::busy;
  if (word == "READONLY") return redis_errc::readonly;
  if (word == "NOPERM") return redis_errc::noperm;
  if (word == "NOAUTH") return redis_errc::noauth;
  if (word == "WRONGPASS") return redis_errc::wrongpass;
  if (word == "BUSYKEY") return redis_errc::busykey;
  if (word != "ERR") return redis_errc::other;
  const std::string_view rest = t.size() > 4 ? t.substr(4) : std::string_view();
  if (starts_with_nocase(rest, "unknown command") ||
      starts_with_nocase(rest, "unknown subcommand")) {
    return redis_errc::unknown_command;
  }
  if (starts_with_nocase(rest, "invalid password")) return redis_errc::wrongpass;  // Redis < 6
  if (rest.starts_with("AUTH ") && rest.find("without any password configured") != rest.npos) {
    return redis_errc::no_password_set;
  }
  if (rest.starts_with("Client sent AUTH, but no password is set")) {  // Redis < 6
    return redis_errc::no_password_set;
  }
  if (rest.starts_with("DUMP payload version or checksum are wrong"))
    return redis_errc::bad_payload;
  if (rest.starts_with("Library ") && rest.find(" already exists") != rest.npos) {
    return redis_errc::library_exists;
  }
  if (rest.starts_with("This instance has cluster support disabled")) {
    return redis_errc::cluster_disabled;
  }
  return redis_errc::other;
}

}  // namespace

const boost::system::error_category& redis_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(redis_errc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

bool redis_error::is_transient() const noexcept {
  return code == redis_errc::clusterdown || code == redis_errc::tryagain ||
         code == redis_errc::loading || code == redis_errc::masterdown;
}

redis_error classify_redis_error(std::string_view text) noexcept {
  redis_error e;
  e.text = text;
  e.code = classify_code(text);
  if (e.is_redirect()) {
    const auto space = text.find(' ');
    if (space == std::string_view::npos || !parse_redirect(text.substr(space + 1), e)) {
      e = redis_error{};
      e.text = text;
    }
  }
  return e;
}

}  // namespace kage::proto
