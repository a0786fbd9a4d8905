// A throw-away PKI for TLS tests: a CA, a server certificate for "localhost" signed by
// it, and an unrelated CA, made with the openssl command at test time.
#pragma once

#include <filesystem>
#include <string>

namespace aibatch::test {

struct test_pki {
    std::filesystem::path dir;
    std::filesystem::path ca_cert;     ///< trust this to accept server_cert
    std::filesystem::path server_cert; ///< subjectAltName DNS:localhost only
    std::filesystem::path server_key;
    std::filesystem::path other_ca_cert; ///< a CA that did not sign server_cert

    /// Made once per process (in a temporary directory), then shared.
    static const test_pki& get();
};

} // namespace aibatch::test
