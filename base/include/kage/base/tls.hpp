#pragma once
// The one builder of TLS client contexts, for Redis connections and HTTPS alike.
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace kage {

struct tls_client_options {
  std::string ca_file;    // PEM bundle to trust; empty: the system's trust store
  std::string cert_file;  // client certificate (mutual TLS), with key_file
  std::string key_file;
  // The same as PEM text (a kubeconfig's *-data fields); each used when its file is empty.
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  bool verify = true;   // off only when the user asked for it
  std::string purpose;  // names the context in messages ("Redis", "S3"); may be empty
};

// Which file could not be loaded; failure::error() carries one of these.
enum class tls_errc { ca_file = 1, trust_store, cert_file, key_file };
const boost::system::error_category& tls_category() noexcept;
boost::system::error_code make_error_code(tls_errc e) noexcept;

// TLS 1.2 or later. Throws failure(usage, tls_errc) naming the file that cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_client_context(const tls_client_options& o);

}  // namespace kage

template <>
struct boost::system::is_error_code_enum<kage::tls_errc> : std::true_type {};
