// gen-certs (SPEC 15.4) with OpenSSL 3. Every OpenSSL object is held by a unique_ptr with its free
// function, so an error thrown half-way leaks nothing.
#include "runner/certs.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "patchbay/error.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;

namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
template <typename T, auto Free>
using Ptr = std::unique_ptr<T, Deleter<Free>>;

using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = Ptr<X509, X509_free>;
using BioPtr = Ptr<BIO, BIO_free_all>;
using NamesPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;

struct Failer {
  std::string context;
  // Drains the OpenSSL error queue into the message; the last entry is usually the root cause.
  [[noreturn]] void fail(const std::string& step) const {
    std::string detail;
    while (unsigned long code = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof buf);
      detail += detail.empty() ? buf : std::string("; ") + buf;
    }
    throw Error(context, step + (detail.empty() ? "" : ": " + detail));
  }
  template <typename T>
  T* check(T* p, const std::string& step) const {
    if (!p) fail(step);
    return p;
  }
  void check(int rc, const std::string& step) const {
    if (rc <= 0) fail(step);
  }
};

GENERAL_NAME* san_entry(const std::string& san, const Failer& f) {
  unsigned char addr[16];
  int len = 0;
  if (inet_pton(AF_INET, san.c_str(), addr) == 1)
    len = 4;
  else if (inet_pton(AF_INET6, san.c_str(), addr) == 1)
    len = 16;
  GENERAL_NAME* name = f.check(GENERAL_NAME_new(), "GENERAL_NAME_new");
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();  // also an ASN1_IA5STRING: same type
  if (!value || !ASN1_OCTET_STRING_set(value, len ? addr : reinterpret_cast<const unsigned char*>(san.data()),
                                       len ? len : static_cast<int>(san.size()))) {
    ASN1_OCTET_STRING_free(value);
    GENERAL_NAME_free(name);
    f.fail("SAN '" + san + "'");
  }
  GENERAL_NAME_set0_value(name, len ? GEN_IPADD : GEN_DNS, value);
  return name;
}

void add_extensions(X509* x509, const std::vector<std::string>& sans, const Failer& f) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
  ExtPtr basic(f.check(X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:FALSE"),
                       "basicConstraints"));
  f.check(X509_add_ext(x509, basic.get(), -1), "add basicConstraints");
  if (sans.empty()) return;
  // Built entry by entry rather than from a "DNS:a,IP:b" string, so a name containing a comma
  // cannot turn into two entries.
  NamesPtr names(f.check(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  for (const auto& san : sans) {
    GENERAL_NAME* entry = san_entry(san, f);
    if (!sk_GENERAL_NAME_push(names.get(), entry)) {
      GENERAL_NAME_free(entry);
      f.fail("SAN '" + san + "'");
    }
  }
  f.check(X509_add1_ext_i2d(x509, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
          "add subjectAltName");
}

X509Ptr make_cert(EVP_PKEY* key, std::string_view cn, const std::vector<std::string>& sans, const Failer& f) {
  X509Ptr x509(f.check(X509_new(), "X509_new"));
  f.check(X509_set_version(x509.get(), X509_VERSION_3), "set version");
  Ptr<BIGNUM, BN_free> serial(f.check(BN_new(), "BN_new"));
  f.check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "random serial");
  f.check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x509.get())) ? 1 : 0, "set serial");
  const long kDay = 24L * 60 * 60;
  f.check(X509_gmtime_adj(X509_getm_notBefore(x509.get()), -kDay) ? 1 : 0, "set notBefore");
  f.check(X509_gmtime_adj(X509_getm_notAfter(x509.get()), 365 * kDay) ? 1 : 0, "set notAfter");
  X509_NAME* name = X509_get_subject_name(x509.get());
  f.check(
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0),
      "set CN '" + std::string(cn) + "'");
  f.check(X509_set_issuer_name(x509.get(), name), "set issuer");
  f.check(X509_set_pubkey(x509.get(), key), "set public key");
  add_extensions(x509.get(), sans, f);
  f.check(X509_sign(x509.get(), key, EVP_sha256()), "sign");
  return x509;
}

std::string pem(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// O_CREAT with 0600 plus fchmod: the key is never readable by others, not even for an instant and
// not when an older key.pem with wider permissions is being replaced.
void write_file(const fs::path& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw SystemError("write '" + path.string() + "'", std::strerror(errno), errno);
  std::size_t done = 0;
  int err = ::fchmod(fd, mode) == 0 ? 0 : errno;
  while (err == 0 && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) err = errno;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err) throw SystemError("write '" + path.string() + "'", std::strerror(err), err);
}

}  // namespace

CertPaths gen_self_signed(const fs::path& dir, std::string_view cn, const std::vector<std::string>& sans) {
  Failer f{"gen-certs '" + dir.string() + "'"};
  ERR_clear_error();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw SystemError(f.context, "create directory: " + ec.message(), ec.value());

  PkeyPtr key(f.check(EVP_EC_gen("P-256"), "generate P-256 key"));
  X509Ptr cert = make_cert(key.get(), cn, sans, f);

  BioPtr cert_bio(f.check(BIO_new(BIO_s_mem()), "BIO_new"));
  f.check(PEM_write_bio_X509(cert_bio.get(), cert.get()), "encode certificate");
  BioPtr key_bio(f.check(BIO_new(BIO_s_mem()), "BIO_new"));
  f.check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
          "encode key");

  CertPaths out{dir / "cert.pem", dir / "key.pem"};
  write_file(out.key, pem(key_bio.get()), 0600);
  write_file(out.cert, pem(cert_bio.get()), 0644);
  return out;
}

}  // namespace patchbay::runner
