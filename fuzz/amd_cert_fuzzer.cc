// amd_cert_fuzzer.cc: certificate parsing and the VCEK/VLEK extension decoder on arbitrary
// bytes, used both as a whole certificate (DER or PEM) and as the value of each AMD extension.
// Properties: no crash; every rejection names what it rejected; a parsed certificate re-parses
// from its own DER to the same extensions; decoded SPLs compare without error paths crashing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "crypto/x509.h"
#include "snp/amd_certs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm;
  ByteSpan input(data, size);
  auto cert = crypto::Certificate::Parse(input);
  if (!cert.ok()) {
    if (cert.status().message().empty()) std::abort();
  } else {
    auto again = crypto::Certificate::FromDer(cert->der());
    if (!again.ok() || again->extensions().size() != cert->extensions().size()) std::abort();
    (void)cert->SubjectCn();
    (void)cert->IssuerCn();
    (void)cert->SerialHex();
    auto info = snp::ParseAmdCertInfo(*cert);
    if (info.ok()) {
      for (snp::Product p : {snp::Product::kMilan, snp::Product::kGenoa, snp::Product::kTurin}) {
        (void)snp::CheckTcbMatchesCert(*info, 0x7308000000000003ull, p);
        (void)snp::CheckHwIdMatchesChipId(*info, Bytes(64, 0), p);
      }
    } else if (info.status().message().empty()) {
      std::abort();
    }
    // Self-signature check under the AMD profile (almost always fails; must not crash).
    (void)cert->VerifySignedBy(cert->public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "fuzz");
  }
  // The same bytes as each AMD extension's value.
  static const char* kSuffixes[] = {".1", ".2", ".3.1", ".3.2", ".3.3", ".3.4", ".3.5",
                                    ".3.6", ".3.7", ".3.8", ".3.9", ".4", ".5"};
  for (const char* s : kSuffixes) {
    std::vector<crypto::Extension> ext{{std::string(snp::kAmdOidArc) + s, false, Bytes(input.begin(), input.end())}};
    auto info = snp::ParseAmdExtensions(ext);
    if (!info.ok() && info.status().message().empty()) std::abort();
    if (info.ok() && info->hw_id.has_value() && info->hw_id->size() != 64 && info->hw_id->size() != 8) std::abort();
  }
  return 0;
}
