// value.h: the typed values that cross the store boundary: SQL parameters and result cells are
// NULL, 64-bit integers, UTF-8 text or blobs. Both backends map their native types onto these
// four so service code reads rows the same way on SQLite and PostgreSQL. Rows carry column
// names; the typed getters return a Status naming the column and the type found.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::store {

class Value {
 public:
  enum class Type { kNull, kInt, kText, kBlob };

  Value() = default;  // NULL
  Value(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
  Value(int v) : v_(int64_t{v}) {}  // NOLINT
  Value(int64_t v) : v_(v) {}  // NOLINT
  Value(std::string v) : v_(std::move(v)) {}  // NOLINT
  Value(std::string_view v) : v_(std::string(v)) {}  // NOLINT
  Value(const char* v) : v_(std::string(v)) {}  // NOLINT
  Value(Bytes v) : v_(std::move(v)) {}  // NOLINT
  static Value Blob(ByteSpan b) { return Value(Bytes(b.begin(), b.end())); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  // Unchecked accessors: only after checking type().
  int64_t int_value() const { return std::get<int64_t>(v_); }
  const std::string& text_value() const { return std::get<std::string>(v_); }
  const Bytes& blob_value() const { return std::get<Bytes>(v_); }

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }

 private:
  std::variant<std::monostate, int64_t, std::string, Bytes> v_;
};

std::string_view TypeName(Value::Type t);  // "NULL", "INTEGER", "TEXT", "BLOB"

using Params = std::vector<Value>;

// One result row. Getters fail with kInternal (a schema/code mismatch, not bad input) when the
// index is out of range or the cell has another type; the message names the column.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  size_t size() const { return values_.size(); }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<std::string>& columns() const { return *columns_; }

  bool IsNull(size_t i) const { return i < values_.size() && values_[i].is_null(); }
  Result<int64_t> Int(size_t i) const;
  Result<std::string> Text(size_t i) const;
  Result<Bytes> Blob(size_t i) const;
  // Same, by column name.
  Result<int64_t> Int(std::string_view column) const;
  Result<std::string> Text(std::string_view column) const;
  Result<Bytes> Blob(std::string_view column) const;
  Result<size_t> IndexOf(std::string_view column) const;

 private:
  Result<const Value*> Cell(size_t i, Value::Type want) const;
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<Value> values_;
};

struct Rows {
  std::shared_ptr<const std::vector<std::string>> columns =
      std::make_shared<const std::vector<std::string>>();
  std::vector<Row> rows;

  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  const Row& operator[](size_t i) const { return rows[i]; }
  auto begin() const { return rows.begin(); }
  auto end() const { return rows.end(); }
};

}  // namespace vhsm::store
