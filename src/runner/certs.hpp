// Self-signed certificates for the `gen-certs` step (SPEC 15.4).
//
//   auto paths = gen_self_signed(sim_dir / "certs" / "relay", "patchbay", {"10.0.0.2", "relay.test"});
//   // paths.cert == .../certs/relay/cert.pem, paths.key == .../certs/relay/key.pem (mode 0600)
//
// The certificate: EC P-256 key, SHA-256 signature, valid from now - 1 day for one year,
// subject and issuer CN=<cn>, basicConstraints CA:FALSE, and one subjectAltName entry per `sans`
// element (an IP address when it parses as IPv4/IPv6, else a DNS name). Failures throw
// patchbay::Error naming the directory and the OpenSSL error.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace patchbay::runner {

struct CertPaths {
  std::filesystem::path cert, key;
};

// Creates `dir` (and parents) and writes dir/cert.pem and dir/key.pem, replacing existing files.
CertPaths gen_self_signed(const std::filesystem::path& dir, std::string_view cn,
                          const std::vector<std::string>& sans);

}  // namespace patchbay::runner
