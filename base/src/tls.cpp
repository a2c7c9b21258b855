#include <kage/base/error.hpp>
#include <kage/base/tls.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>

namespace kage {
namespace {

namespace ssl = boost::asio::ssl;

class tls_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kage.tls"; }
  std::string message(int ev) const override {
    switch (static_cast<tls_errc>(ev)) {
      case tls_errc::ca_file:
        return "cannot load the TLS CA file";
      case tls_errc::trust_store:
        return "cannot load the system's TLS trust store";
      case tls_errc::cert_file:
        return "cannot load the TLS client certificate";
      case tls_errc::key_file:
        return "cannot load the TLS client key";
    }
    return "TLS setup failed";
  }
};

}  // namespace

const boost::system::error_category& tls_category() noexcept {
  static const tls_category_impl category;
  return category;
}

boost::system::error_code make_error_code(tls_errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

std::shared_ptr<ssl::context> make_tls_client_context(const tls_client_options& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  const std::string who = o.purpose.empty() ? "" : o.purpose + " ";
  auto must = [&](tls_errc what, const char* label, const std::string& file) {
    if (!ec) return;
    fail(exit_code::usage, what,
         "cannot load the " + who + "TLS " + label + " '" + file + "': " + ec.message() +
             "; check the path and that it is PEM");
  };
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (!o.ca_file.empty()) {
    ctx->load_verify_file(o.ca_file, ec);
    must(tls_errc::ca_file, "CA file", o.ca_file);
  } else if (!o.ca_pem.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(o.ca_pem), ec);
    must(tls_errc::ca_file, "CA", "(inline PEM data)");
  } else {
    ctx->set_default_verify_paths(ec);
    must(tls_errc::trust_store, "trust store", "default paths");
  }
  if (!o.cert_file.empty()) {
    ctx->use_certificate_chain_file(o.cert_file, ec);
    must(tls_errc::cert_file, "client certificate", o.cert_file);
    if (!o.key_pem.empty() && o.key_file.empty())
      ctx->use_private_key(boost::asio::buffer(o.key_pem), ssl::context::pem, ec);
    else
      ctx->use_private_key_file(o.key_file, ssl::context::pem, ec);
    must(tls_errc::key_file, "client key", o.key_file);
  } else if (!o.cert_pem.empty()) {
    ctx->use_certificate_chain(boost::asio::buffer(o.cert_pem), ec);
    must(tls_errc::cert_file, "client certificate", "(inline PEM data)");
    if (!o.key_file.empty())
      ctx->use_private_key_file(o.key_file, ssl::context::pem, ec);
    else
      ctx->use_private_key(boost::asio::buffer(o.key_pem), ssl::context::pem, ec);
    must(tls_errc::key_file, "client key", o.key_file.empty() ? "(inline PEM data)" : o.key_file);
  }
  ctx->set_verify_mode(o.verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

}  // namespace kage
