#pragma once
// Advice for S3 and TLS failures, naming kage's settings: the libraries report what failed
// (s3_errc, tls_errc in failure::error()), the command line knows how it was configured.
#include "settings.hpp"

#include <boost/system/error_code.hpp>

#include <exception>
#include <string>

namespace kage::cli {

// "" when there is nothing to add.
std::string s3_tls_hint(const boost::system::error_code& error, const settings& s);

// The same for a caught exception (a kage::failure carries the error code).
std::string s3_tls_hint(const std::exception_ptr& error, const settings& s);

// The failure's message, then "; " and the advice when there is some.
std::string with_hint(const std::string& message, const boost::system::error_code& error,
                      const settings& s);

}  // namespace kage::cli
