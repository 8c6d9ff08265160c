// report_test_util.h: synthetic SEV-SNP reports for tests (never signed by AMD). MakeReport gives
// a structurally valid report of the requested version; tests then change single fields. Also
// loads the report vectors listed in shared/snp-vectors/MANIFEST.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "snp/report.h"
#include "testing/testdata.h"

namespace vhsm::snp::testutil {

// A valid report: POLICY 0x30000, SIGNATURE_ALGO 1, VCEK, REPORT_ID_MA all 0xFF, distinct
// non-zero patterns in the hashes/ids, a 48-byte non-zero R and S. v3+ carry Genoa CPUID
// (0x19/0x11/0x01) unless changed; v5+ carry non-zero mitigation vectors.
inline AttestationReport MakeReport(uint32_t version) {
  AttestationReport r;
  r.version = version;
  r.guest_svn = 7;
  r.policy = 0x30000;
  r.signature_algo = kSignatureAlgoEcdsaP384Sha384;
  r.current_tcb = r.reported_tcb = r.committed_tcb = r.launch_tcb = 0x5419000000000003ull;
  r.platform_info = 0x25;
  for (size_t i = 0; i < r.report_data.size(); ++i) r.report_data[i] = static_cast<uint8_t>(i + 1);
  for (size_t i = 0; i < r.measurement.size(); ++i) r.measurement[i] = static_cast<uint8_t>(0x80 + i);
  for (size_t i = 0; i < r.report_id.size(); ++i) r.report_id[i] = static_cast<uint8_t>(0x40 + i);
  r.report_id_ma.fill(0xFF);
  for (size_t i = 0; i < r.chip_id.size(); ++i) r.chip_id[i] = static_cast<uint8_t>(0xC0 ^ i);
  if (version >= 3) {
    r.cpuid_fam_id = 0x19;
    r.cpuid_mod_id = 0x11;
    r.cpuid_step = 0x01;
  }
  r.current_version = {43, 55, 1};
  r.committed_version = {43, 55, 1};
  if (version >= 5) {
    r.launch_mit_vector = 1;
    r.current_mit_vector = 3;
  }
  for (size_t i = 0; i < 48; ++i) {
    r.signature_r[i] = static_cast<uint8_t>(0x11 + i);
    r.signature_s[i] = static_cast<uint8_t>(0x99 - i);
  }
  return r;
}

// A Turin v3 report built from the fact sheet: CPUID 0x1A/0x02, TCB bytes 01 02 03 04 00 00 00 50
// (fmc 1, bl 2, tee 3, snp 4, ucode 0x50), 8-byte CHIP_ID, PLATFORM_INFO bit 6 set.
inline AttestationReport MakeTurinReport(uint32_t version = 3) {
  AttestationReport r = MakeReport(version);
  r.cpuid_fam_id = 0x1A;
  r.cpuid_mod_id = 0x02;
  r.cpuid_step = 0x00;
  r.current_tcb = r.reported_tcb = r.committed_tcb = r.launch_tcb = 0x5000000004030201ull;
  r.chip_id.fill(0);
  for (size_t i = 0; i < 8; ++i) r.chip_id[i] = static_cast<uint8_t>(0xA1 + i);
  r.platform_info = 0x65;  // SMT_EN, ECC_EN, ALIAS_CHECK_COMPLETE, bit 6
  return r;
}

struct ReportVector {
  std::string name;
  std::string path;  // relative to shared/snp-vectors
  nlohmann::json fields;  // report_fields
};

// Every MANIFEST vector whose kind starts with "report" and which has a report.bin.
inline std::vector<ReportVector> LoadReportVectors() {
  std::vector<ReportVector> out;
  auto text = ReadFileText(testdata::SnpVectorsDir() + "/MANIFEST.json");
  if (!text.ok()) {
    ADD_FAILURE() << text.status().ToString();
    return out;
  }
  nlohmann::json manifest = nlohmann::json::parse(*text, nullptr, false);
  if (manifest.is_discarded()) {
    ADD_FAILURE() << "MANIFEST.json does not parse";
    return out;
  }
  for (const auto& v : manifest.at("vectors")) {
    std::string kind = v.value("kind", "");
    if (kind.rfind("report", 0) != 0) continue;
    for (const auto& f : v.value("files", nlohmann::json::array())) {
      std::string p = f.value("path", "");
      if (p.size() >= 10 && p.compare(p.size() - 10, 10, "report.bin") == 0) {
        out.push_back({v.value("name", ""), p, v.value("report_fields", nlohmann::json::object())});
      }
    }
  }
  return out;
}

}  // namespace vhsm::snp::testutil
