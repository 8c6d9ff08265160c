// sim_firmware.cc: report assembly, signing and MSG_KEY_REQ key derivation for the simulator.
#include "sim/sim_firmware.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstdio>

#include "base/byte_reader.h"
#include "crypto/error.h"
#include "crypto/p384.h"
#include "snp/tcb.h"

namespace vhsm::sim {
namespace {

using crypto::OpenSslError;

constexpr char kKdfSalt[] = "vhsm-sim MSG_KEY_REQ v1";
constexpr size_t kDerivedKeySize = 32;

Status CheckVmpl(uint32_t requested, uint32_t guest_vmpl, std::string_view what) {
  if (requested > 3) {
    return InvalidArgumentError(std::string(what) + ".vmpl: got " + std::to_string(requested) + ", want 0..3");
  }
  if (requested < guest_vmpl) {
    return InvalidArgumentError(std::string(what) + ".vmpl: got " + std::to_string(requested) +
                                ", below the requesting guest's VMPL " + std::to_string(guest_vmpl) +
                                " (firmware only serves the caller's VMPL or a less privileged one)");
  }
  return OkStatus();
}

Result<SecretBytes> Hkdf384(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t out_len) {
  crypto::EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return OpenSslError("EVP_KDF_fetch HKDF");
  crypto::EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return OpenSslError("EVP_KDF_CTX_new");
  char digest[] = "SHA384";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.MutableExpose().data(), out_len, params) != 1) {
    return OpenSslError("HKDF-SHA384");
  }
  return out;
}

}  // namespace

Status SignReportBytes(EVP_PKEY* key, std::span<uint8_t> report) {
  if (report.size() != snp::kReportSize) {
    return InvalidArgumentError("report: got " + std::to_string(report.size()) + " bytes, want " +
                                std::to_string(snp::kReportSize));
  }
  VHSM_ASSIGN_OR_RETURN(crypto::EcdsaP384Signature sig,
                        crypto::SignEcdsaP384Sha384(key, ByteSpan(report.data(), snp::kSignedRegionSize)));
  // R and S little-endian, zero-padded to 72 bytes (only the low 48 are ever non-zero).
  uint8_t* r_out = report.data() + snp::kSignatureOffset;
  uint8_t* s_out = r_out + snp::kSigComponentSize;
  std::fill(r_out, r_out + 2 * snp::kSigComponentSize, uint8_t{0});
  std::reverse_copy(sig.r.begin(), sig.r.end(), r_out);
  std::reverse_copy(sig.s.begin(), sig.s.end(), s_out);
  return OkStatus();
}

Result<std::unique_ptr<SimFirmware>> SimFirmware::Open(const std::string& state_dir) {
  VHSM_ASSIGN_OR_RETURN(SimState state, LoadSimState(state_dir));
  return Create(std::move(state));
}

Result<std::unique_ptr<SimFirmware>> SimFirmware::Create(SimState state) {
  VHSM_RETURN_IF_ERROR(ValidateSimConfig(state.config));
  if (!state.vcek_key || state.vcek_der.empty() || state.ark_der.empty() || state.ask_der.empty()) {
    return FailedPreconditionError("sim state: VCEK key or ARK/ASK/VCEK certificate missing");
  }
  if (state.config.signing_key == snp::SigningKey::kVlek && (!state.vlek_key || state.vlek_der.empty())) {
    return FailedPreconditionError("sim state: signing_key is vlek but the VLEK key or certificate is missing");
  }
  if (state.secrets.chip_secret.size() != 32 || state.secrets.vmrk_secret.size() != 32) {
    return FailedPreconditionError("sim state: chip_secret and vmrk_secret must be 32 bytes");
  }
  return std::unique_ptr<SimFirmware>(new SimFirmware(std::move(state)));
}

Result<snp::AttestationReport> SimFirmware::BuildUnsignedReport(std::span<const uint8_t, 64> report_data,
                                                                 uint32_t vmpl) const {
  VHSM_RETURN_IF_ERROR(CheckVmpl(vmpl, state_.config.vmpl, "report request"));
  const SimConfig& c = state_.config;
  snp::AttestationReport r;
  r.version = c.report_version;
  r.guest_svn = c.guest_svn;
  r.policy = c.policy;
  r.family_id = c.family_id;
  r.image_id = c.image_id;
  r.vmpl = vmpl;
  r.signature_algo = snp::kSignatureAlgoEcdsaP384Sha384;
  r.current_tcb = c.current_tcb;
  r.platform_info = c.platform_info;
  r.signer_info = (c.author_key_en ? 1u : 0u) | (c.mask_chip_key ? 2u : 0u) |
                  (static_cast<uint32_t>(c.signing_key) << 2);
  std::copy(report_data.begin(), report_data.end(), r.report_data.begin());
  r.measurement = c.measurement;
  r.host_data = c.host_data;
  r.id_key_digest = c.id_key_digest;
  // AUTHOR_KEY_DIGEST is only reported when the ID block was signed with an author key.
  if (c.author_key_en) r.author_key_digest = c.author_key_digest;
  r.report_id = c.report_id;
  r.report_id_ma = c.report_id_ma;
  r.reported_tcb = c.reported_tcb;
  if (c.report_version >= 3) {
    r.cpuid_fam_id = c.cpuid_fam_id;
    r.cpuid_mod_id = c.cpuid_mod_id;
    r.cpuid_step = c.cpuid_step;
  }
  r.chip_id = c.chip_id;
  r.committed_tcb = c.committed_tcb;
  r.current_version = c.current_version;
  r.committed_version = c.committed_version;
  r.launch_tcb = c.launch_tcb;
  if (c.report_version >= 5) {
    r.launch_mit_vector = c.launch_mit_vector;
    r.current_mit_vector = c.current_mit_vector;
  }
  return r;
}

Bytes SimFirmware::CertTable() const {
  std::vector<snp::CertTableEntry> entries;
  entries.push_back({snp::kGuidArk, state_.ark_der});
  if (state_.config.signing_key == snp::SigningKey::kVlek) {
    entries.push_back({snp::kGuidAsk, state_.asvk_der});  // the ASK slot carries the ASVK
    entries.push_back({snp::kGuidVlek, state_.vlek_der});
  } else {
    entries.push_back({snp::kGuidAsk, state_.ask_der});
    entries.push_back({snp::kGuidVcek, state_.vcek_der});
  }
  return snp::SerializeCertTable(entries);
}

Result<snp::ReportResponse> SimFirmware::GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) {
  VHSM_ASSIGN_OR_RETURN(snp::AttestationReport report, BuildUnsignedReport(report_data, vmpl));
  Bytes bytes = snp::SerializeReport(report);
  if (bytes.size() != snp::kReportSize) {
    return InternalError("sim: serialised report has " + std::to_string(bytes.size()) + " bytes");
  }
  EVP_PKEY* key = state_.config.signing_key == snp::SigningKey::kVlek ? state_.vlek_key.get()
                                                                       : state_.vcek_key.get();
  VHSM_RETURN_IF_ERROR(SignReportBytes(key, bytes));
  snp::ReportResponse out;
  out.report = std::move(bytes);
  out.cert_table = CertTable();
  return out;
}

Result<SecretBytes> SimFirmware::GetDerivedKey(const snp::DerivedKeyRequest& req) {
  const SimConfig& c = state_.config;
  if (req.root_key_select != snp::RootKey::kVcek && req.root_key_select != snp::RootKey::kVmrk) {
    return InvalidArgumentError("key request.root_key_select: got " +
                                std::to_string(static_cast<uint32_t>(req.root_key_select)) +
                                ", want 0 (VCEK) or 1 (VMRK)");
  }
  if ((req.guest_field_select & ~snp::field_select::kAllKnown) != 0) {
    char hex[24];
    std::snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(req.guest_field_select));
    return InvalidArgumentError(std::string("key request.guest_field_select: got ") + hex +
                                ", only bits 0..6 are defined");
  }
  VHSM_RETURN_IF_ERROR(CheckVmpl(req.vmpl, c.vmpl, "key request"));
  // Bounds real firmware enforces whether or not the field is selected.
  if (req.guest_svn > c.guest_svn) {
    return InvalidArgumentError("key request.guest_svn: got " + std::to_string(req.guest_svn) +
                                ", exceeds the launch GUEST_SVN " + std::to_string(c.guest_svn));
  }
  snp::TcbParts committed = snp::DecodeTcb(c.committed_tcb, c.product);
  snp::TcbParts asked = snp::DecodeTcb(req.tcb_version, c.product);
  if ((req.tcb_version & snp::TcbReservedMask(c.product)) != 0 || !snp::TcbAtLeast(committed, asked)) {
    return InvalidArgumentError("key request.tcb_version: " + snp::TcbToString(asked) +
                                " exceeds COMMITTED_TCB " + snp::TcbToString(committed));
  }
  if ((req.launch_mit_vector & ~c.launch_mit_vector) != 0) {
    return InvalidArgumentError("key request.launch_mit_vector: sets mitigations the guest was not launched with");
  }

  // info = root || vmpl || select || each selected field, in bit order. Unselected fields never
  // enter, so they cannot change the key.
  ByteWriter info;
  info.WriteU32Le(static_cast<uint32_t>(req.root_key_select));
  info.WriteU32Le(req.vmpl);
  info.WriteU64Le(req.guest_field_select);
  const uint64_t sel = req.guest_field_select;
  namespace fs = snp::field_select;
  if (sel & fs::kGuestPolicy) info.WriteU64Le(c.policy);
  if (sel & fs::kImageId) info.WriteBytes(c.image_id);
  if (sel & fs::kFamilyId) info.WriteBytes(c.family_id);
  if (sel & fs::kMeasurement) info.WriteBytes(c.measurement);
  if (sel & fs::kGuestSvn) info.WriteU32Le(req.guest_svn);
  if (sel & fs::kTcbVersion) info.WriteU64Le(req.tcb_version);
  if (sel & fs::kLaunchMitVector) info.WriteU64Le(req.launch_mit_vector);

  // VCEK-rooted keys come from the chip secret (all zeros when the guest masks the chip key, so
  // they stop being chip-unique); VMRK-rooted ones from this launch's VM root key.
  SecretBytes zeros(32);
  const SecretBytes& root = req.root_key_select == snp::RootKey::kVmrk ? state_.secrets.vmrk_secret
                            : c.mask_chip_key                          ? zeros
                                                                       : state_.secrets.chip_secret;
  return Hkdf384(root.Expose(), AsBytes(kKdfSalt), info.bytes(), kDerivedKeySize);
}

Result<snp::CertificateSet> SimFirmware::GetCertificates() {
  snp::CertificateSet set;
  set.ark = state_.ark_der;
  if (state_.config.signing_key == snp::SigningKey::kVlek) {
    set.ask = state_.asvk_der;
    set.vlek = state_.vlek_der;
  } else {
    set.ask = state_.ask_der;
    set.vcek = state_.vcek_der;
  }
  return set;
}

}  // namespace vhsm::sim
