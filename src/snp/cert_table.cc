// cert_table.cc: the extended-report certificate table (GHCB spec 56421 section 4.1.8.1;
// snp-facts.md section 8). The blob comes from the host, so every entry is bounds-checked:
// data must lie inside the blob, after the entry table, and entries must not overlap.
#include <algorithm>
#include <utility>

#include "base/byte_reader.h"
#include "snp/firmware.h"

namespace vhsm::snp {
namespace {

constexpr size_t kEntrySize = 24;
// Linux hands the guest at most 16 KiB (configfs) and the ioctl path retries with the host's
// size; 64 KiB is far above any real ARK+ASK+VCEK+CRL table.
constexpr size_t kMaxCertTableBytes = 64 * 1024;

std::string GuidString(const Guid& g) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < g.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[g[i] >> 4];
    out += kHex[g[i] & 0xF];
  }
  return out;
}

struct RawEntry {
  Guid guid{};
  uint32_t offset = 0;
  uint32_t length = 0;
};

}  // namespace

Result<std::vector<CertTableEntry>> ParseCertTable(ByteSpan blob) {
  if (blob.size() > kMaxCertTableBytes) {
    return ResourceExhaustedError("cert_table: got " + std::to_string(blob.size()) +
                                  " bytes, limit " + std::to_string(kMaxCertTableBytes));
  }
  // No blob, or an all-zero one, means the host supplied no certificates.
  if (blob.empty() || IsAllZero(blob)) return std::vector<CertTableEntry>{};

  ByteReader r(blob);
  std::vector<RawEntry> raw;
  for (;;) {
    std::string what = "cert_table.entry[" + std::to_string(raw.size()) + "]";
    if (r.remaining() < kEntrySize) {
      return InvalidArgumentError(what + ": table ends at offset " + std::to_string(r.offset()) +
                                  " without the all-zero terminator entry");
    }
    RawEntry e;
    VHSM_ASSIGN_OR_RETURN(ByteSpan g, r.ReadBytes(e.guid.size(), what + ".guid"));
    std::copy(g.begin(), g.end(), e.guid.begin());
    VHSM_ASSIGN_OR_RETURN(e.offset, r.ReadU32Le(what + ".offset"));
    VHSM_ASSIGN_OR_RETURN(e.length, r.ReadU32Le(what + ".length"));
    bool zero_guid = IsAllZero(e.guid);
    if (zero_guid && e.offset == 0 && e.length == 0) break;  // terminator
    if (zero_guid) {
      return InvalidArgumentError(what + ": zero GUID with offset " + std::to_string(e.offset) +
                                  " and length " + std::to_string(e.length) +
                                  ", want an all-zero terminator or a non-zero GUID");
    }
    raw.push_back(e);
  }
  const size_t table_end = r.offset();

  std::vector<std::pair<size_t, size_t>> ranges;  // [begin, end) of each entry's data
  std::vector<CertTableEntry> out;
  for (size_t i = 0; i < raw.size(); ++i) {
    const RawEntry& e = raw[i];
    std::string what = "cert_table.entry[" + std::to_string(i) + "] (" + GuidString(e.guid) + ")";
    for (size_t j = 0; j < i; ++j) {
      if (raw[j].guid == e.guid) {
        return InvalidArgumentError(what + ": duplicate GUID (also entry " + std::to_string(j) + ")");
      }
    }
    size_t begin = e.offset;
    size_t end = begin + static_cast<size_t>(e.length);  // no overflow: both < 2^32 in size_t
    if (e.length == 0) return InvalidArgumentError(what + ": length 0, want a certificate");
    if (begin < table_end) {
      return InvalidArgumentError(what + ": offset " + std::to_string(begin) +
                                  " points into the entry table (which ends at " +
                                  std::to_string(table_end) + ")");
    }
    if (end > blob.size()) {
      return InvalidArgumentError(what + ": offset " + std::to_string(begin) + " + length " +
                                  std::to_string(e.length) + " exceeds the blob size " +
                                  std::to_string(blob.size()));
    }
    for (size_t j = 0; j < ranges.size(); ++j) {
      if (begin < ranges[j].second && ranges[j].first < end) {
        return InvalidArgumentError(what + ": data [" + std::to_string(begin) + ", " +
                                    std::to_string(end) + ") overlaps entry " + std::to_string(j));
      }
    }
    ranges.emplace_back(begin, end);
    ByteSpan data = blob.subspan(begin, e.length);
    out.push_back(CertTableEntry{e.guid, Bytes(data.begin(), data.end())});
  }
  return out;
}

Bytes SerializeCertTable(const std::vector<CertTableEntry>& entries) {
  if (entries.empty()) return {};
  ByteWriter w;
  size_t offset = (entries.size() + 1) * kEntrySize;
  for (const CertTableEntry& e : entries) {
    w.WriteBytes(e.guid);
    w.WriteU32Le(static_cast<uint32_t>(offset));
    w.WriteU32Le(static_cast<uint32_t>(e.data.size()));
    offset += e.data.size();
  }
  w.WriteZeros(kEntrySize);  // terminator
  for (const CertTableEntry& e : entries) w.WriteBytes(e.data);
  return w.Take();
}

CertificateSet CertificateSetFromTable(const std::vector<CertTableEntry>& entries) {
  CertificateSet set;
  for (const CertTableEntry& e : entries) {
    if (e.guid == kGuidArk) set.ark = e.data;
    else if (e.guid == kGuidAsk) set.ask = e.data;
    else if (e.guid == kGuidVcek) set.vcek = e.data;
    else if (e.guid == kGuidVlek) set.vlek = e.data;
    else if (e.guid == kGuidCrl) set.crl = e.data;
    // Unknown GUIDs (e.g. vendor extensions) are ignored.
  }
  return set;
}

}  // namespace vhsm::snp
