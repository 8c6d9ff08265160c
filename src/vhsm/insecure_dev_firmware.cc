#include "vhsm/insecure_dev_firmware.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vhsm/sealed_store.h"

namespace vhsm::hsm {
namespace {

Result<Bytes> ReadOrCreateHex(const std::string& path, size_t len, bool random) {
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return HexDecodeExact(text, len, path);
  }
  Bytes b(len, 0);
  if (random && RAND_bytes(b.data(), static_cast<int>(len)) != 1) return InternalError("RAND_bytes");
  std::ofstream out(path, std::ios::trunc);
  out << HexEncode(b) << "\n";
  if (!out) return UnavailableError("cannot write " + path);
  return b;
}

}  // namespace

Result<std::unique_ptr<InsecureDevFirmware>> InsecureDevFirmware::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::unique_ptr<InsecureDevFirmware> fw(new InsecureDevFirmware());
  VHSM_ASSIGN_OR_RETURN(Bytes seed, ReadOrCreateHex(dir + "/seed", 32, true));
  fw->seed_ = SecretBytes(seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  VHSM_ASSIGN_OR_RETURN(fw->measurement_, ReadOrCreateHex(dir + "/measurement", 48, false));
  return fw;
}

Result<snp::ReportResponse> InsecureDevFirmware::GetReport(std::span<const uint8_t, 64>, uint32_t) {
  return UnimplementedError("insecure-dev platform produces no attestation reports");
}

Result<SecretBytes> InsecureDevFirmware::GetDerivedKey(const snp::DerivedKeyRequest& request) {
  if (request.vmpl > 3) return InvalidArgumentError("vmpl: got " + std::to_string(request.vmpl) + ", want 0..3");
  Bytes msg = EncodeKeyRequest(request);
  if (request.guest_field_select & snp::field_select::kMeasurement) {
    msg.insert(msg.end(), measurement_.begin(), measurement_.end());
  }
  SecretBytes key(32);
  unsigned int len = 32;
  if (HMAC(EVP_sha256(), seed_.Expose().data(), static_cast<int>(seed_.size()), msg.data(), msg.size(),
           key.MutableExpose().data(), &len) == nullptr) {
    return InternalError("HMAC");
  }
  return key;
}

Result<snp::CertificateSet> InsecureDevFirmware::GetCertificates() { return snp::CertificateSet{}; }

}  // namespace vhsm::hsm
