// uri.h: the RFC 7512 "pkcs11:" URI, parsed strictly. A URI names a PKCS#11 module (query
// module-path / module-name), a token (path token, manufacturer, serial, model, slot-*,
// library-*) and an object (object = CKA_LABEL, id = CKA_ID bytes, type = object class), plus
// how to log in (query pin-value or pin-source). Used by p11::Key (key.h) to find a signing or
// wrapping key in an HSM, e.g. vhsm-attestd's `signing_key = "pkcs11:token=ear;object=ear-p256"`.
//
// Strictness (our reading of RFC 7512 sections 2.3-2.4): only the characters of the RFC grammar
// are accepted (anything else must be percent-encoded); an attribute may appear once; a fragment
// is an error; pin-value and pin-source together are an error. Unknown path attributes, standard
// or vendor ("x-..."), are REJECTED: a path attribute narrows the match, so ignoring one could
// select a different key than the URI's author meant. Unknown vendor query attributes ("x-...")
// are IGNORED (the RFC leaves them to the consumer); unknown non-vendor query attributes are
// rejected. Size limits: the whole URI at most kMaxUriBytes; each decoded value at most the
// PKCS#11 field it is compared with (token label 32, serial 16, ...) or kMaxValueBytes.
// Errors are kInvalidArgument naming the attribute, what was expected and what was found; the
// PIN value is never echoed in a message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"

namespace vhsm::p11 {

inline constexpr size_t kMaxUriBytes = 4096;
inline constexpr size_t kMaxValueBytes = 1024;  // object label, paths, descriptions
inline constexpr size_t kMaxIdBytes = 256;      // CKA_ID
inline constexpr size_t kMaxPinBytes = 256;

enum class ObjectType { kPublic, kPrivate, kCert, kSecretKey, kData };
std::string_view ObjectTypeName(ObjectType t);  // "public", "private", "cert", "secret-key", "data"

struct LibraryVersion {
  uint8_t major = 0;
  uint8_t minor = 0;
  friend bool operator==(const LibraryVersion&, const LibraryVersion&) = default;
};

struct Pkcs11Uri {
  // Path attributes (each optional; absent = matches anything).
  std::optional<std::string> token;         // CK_TOKEN_INFO.label (<= 32 bytes)
  std::optional<std::string> manufacturer;  // CK_TOKEN_INFO.manufacturerID (<= 32)
  std::optional<std::string> serial;        // CK_TOKEN_INFO.serialNumber (<= 16)
  std::optional<std::string> model;         // CK_TOKEN_INFO.model (<= 16)
  std::optional<std::string> library_manufacturer;  // CK_INFO.manufacturerID (<= 32)
  std::optional<std::string> library_description;   // CK_INFO.libraryDescription (<= 32)
  std::optional<LibraryVersion> library_version;    // CK_INFO.libraryVersion, "M" or "M.N"
  std::optional<std::string> slot_manufacturer;     // CK_SLOT_INFO.manufacturerID (<= 32)
  std::optional<std::string> slot_description;      // CK_SLOT_INFO.slotDescription (<= 64)
  std::optional<uint64_t> slot_id;                  // decimal CK_SLOT_ID
  std::optional<std::string> object;        // CKA_LABEL
  std::optional<Bytes> id;                  // CKA_ID (percent-encoded bytes)
  std::optional<ObjectType> type;           // CKA_CLASS
  // Query attributes.
  std::optional<std::string> module_path;   // absolute path of the module .so
  std::optional<std::string> module_name;   // module name without "lib" prefix / suffix
  std::optional<SecretBytes> pin_value;     // WARNING: a PIN; never log
  std::optional<std::string> pin_source;    // file path (or "file:" URI) holding the PIN

  Pkcs11Uri() = default;
  Pkcs11Uri(Pkcs11Uri&&) noexcept = default;
  Pkcs11Uri& operator=(Pkcs11Uri&&) noexcept = default;
  Pkcs11Uri Clone() const;

  // Canonical text (attributes in a fixed order, everything outside the unreserved set
  // percent-encoded). The PIN is written as "pin-value=REDACTED" unless `with_pin`.
  // Parse(ToString(true)) gives back an equal URI.
  std::string ToString(bool with_pin = false) const;
  // Same attributes, same values (PIN compared in constant time).
  bool Equals(const Pkcs11Uri& other) const;
};

// True when `text` starts with "pkcs11:" (scheme compared case-insensitively).
bool IsPkcs11Uri(std::string_view text);
// Parses a pkcs11: URI (see the header comment for the rules).
Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view text);

}  // namespace vhsm::p11
