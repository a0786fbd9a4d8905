#include "test_pki.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace aibatch::test {
namespace {

void run(const std::string& cmd) {
    std::string full = cmd + " >/dev/null 2>&1";
    if (std::system(full.c_str()) != 0)
        throw std::runtime_error("test PKI: command failed: " + cmd);
}

test_pki make_pki() {
    test_pki p;
    p.dir = std::filesystem::temp_directory_path() / ("aibatch-pki-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p.dir);
    auto f = [&](const char* name) { return (p.dir / name).string(); };
    p.ca_cert = f("ca.pem");
    p.server_cert = f("server.pem");
    p.server_key = f("server.key");
    p.other_ca_cert = f("other-ca.pem");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string ca_ext = " -addext basicConstraints=critical,CA:TRUE"
                               " -addext keyUsage=critical,keyCertSign,cRLSign";
    run("openssl req -x509 " + ec + " -keyout " + f("ca.key") + " -out " + f("ca.pem") +
        " -days 2 -subj '/CN=aibatch test CA'" + ca_ext);
    run("openssl req -x509 " + ec + " -keyout " + f("other-ca.key") + " -out " + f("other-ca.pem") +
        " -days 2 -subj '/CN=aibatch other CA'" + ca_ext);
    run("openssl req " + ec + " -keyout " + f("server.key") + " -out " + f("server.csr") +
        " -subj '/CN=localhost'");
    {
        std::ofstream ext(f("server.ext"));
        ext << "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
               "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
    }
    run("openssl x509 -req -in " + f("server.csr") + " -CA " + f("ca.pem") + " -CAkey " +
        f("ca.key") + " -CAcreateserial -out " + f("server.pem") + " -days 2 -extfile " +
        f("server.ext"));
    return p;
}

} // namespace

const test_pki& test_pki::get() {
    static const test_pki pki = make_pki();
    return pki;
}

} // namespace aibatch::test
