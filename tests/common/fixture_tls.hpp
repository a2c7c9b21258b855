// Test fixtures: throw-away TLS material generated with the openssl CLI.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fixture_process.hpp"

namespace kage::test {

// PEM files in `dir`. Copies share ownership of the directory, which is removed when the last
// copy goes away (unless KAGE_KEEP_TEST_DIRS is set).
struct tls_files {
  std::string dir, ca_cert, server_cert, server_key, client_cert, client_key;
  std::shared_ptr<const temp_dir> owner;
};

// A CA, a server certificate (CN localhost; SAN DNS:localhost plus IP: for each of `ips`;
// usable for server and client auth, as Redis presents it on replication and cluster-bus links)
// and a client certificate (CN kage-test-client), all EC P-256 keys signed by the CA.
tls_files make_tls_files(const std::vector<std::string>& ips = {"127.0.0.1"});

}  // namespace kage::test
