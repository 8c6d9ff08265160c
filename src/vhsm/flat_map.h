// flat_map.h: a sorted-vector map with the subset of std::map's interface vhsmd's attribute
// tables use. An object carries ~25 attributes; as a std::map that was two heap blocks per
// attribute (tree node + value) and 3.6 KiB per AES key object, and malloc plus page faults
// dominated loading 100,000 token objects. Here the entries are contiguous: one block for the
// table plus one per value.
// Unlike std::map, an insertion invalidates iterators and pointers into the map (including
// Object::Get results): never hold one across an insertion into the same map.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

namespace vhsm::hsm {

template <class K, class V>
class FlatMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<K, V>;
  using Vec = std::vector<value_type>;
  using iterator = typename Vec::iterator;
  using const_iterator = typename Vec::const_iterator;

  FlatMap() = default;
  // Like std::map: for a repeated key the first element wins.
  FlatMap(std::initializer_list<value_type> init) : FlatMap(init.begin(), init.end()) {}
  template <class It>
  FlatMap(It first, It last) {
    for (; first != last; ++first) emplace(first->first, first->second);
  }

  iterator begin() { return v_.begin(); }
  iterator end() { return v_.end(); }
  const_iterator begin() const { return v_.begin(); }
  const_iterator end() const { return v_.end(); }
  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  void clear() { v_.clear(); }
  void reserve(size_t n) { v_.reserve(n); }

  iterator lower_bound(const K& k) {
    return std::lower_bound(v_.begin(), v_.end(), k, [](const value_type& e, const K& x) { return e.first < x; });
  }
  const_iterator lower_bound(const K& k) const {
    return std::lower_bound(v_.begin(), v_.end(), k, [](const value_type& e, const K& x) { return e.first < x; });
  }
  iterator find(const K& k) {
    iterator it = lower_bound(k);
    return it != v_.end() && it->first == k ? it : v_.end();
  }
  const_iterator find(const K& k) const {
    const_iterator it = lower_bound(k);
    return it != v_.end() && it->first == k ? it : v_.end();
  }
  size_t count(const K& k) const { return find(k) != v_.end() ? 1 : 0; }
  bool contains(const K& k) const { return find(k) != v_.end(); }

  V& operator[](const K& k) {
    iterator it = lower_bound(k);
    if (it == v_.end() || it->first != k) it = v_.emplace(it, k, V());
    return it->second;
  }
  // Inserts when absent (like std::map::emplace/insert); never overwrites.
  std::pair<iterator, bool> emplace(const K& k, V v) {
    iterator it = lower_bound(k);
    if (it != v_.end() && it->first == k) return {it, false};
    return {v_.emplace(it, k, std::move(v)), true};
  }
  std::pair<iterator, bool> insert(value_type e) { return emplace(e.first, std::move(e.second)); }
  std::pair<iterator, bool> insert_or_assign(const K& k, V v) {
    iterator it = lower_bound(k);
    if (it != v_.end() && it->first == k) {
      it->second = std::move(v);
      return {it, false};
    }
    return {v_.emplace(it, k, std::move(v)), true};
  }
  // With a hint: O(1) when entries arrive in ascending key order and the hint is end().
  iterator insert_or_assign(const_iterator hint, const K& k, V v) {
    if (hint == v_.end() && (v_.empty() || v_.back().first < k)) {
      v_.emplace_back(k, std::move(v));
      return v_.end() - 1;
    }
    return insert_or_assign(k, std::move(v)).first;
  }
  size_t erase(const K& k) {
    iterator it = find(k);
    if (it == v_.end()) return 0;
    v_.erase(it);
    return 1;
  }
  iterator erase(const_iterator it) { return v_.erase(it); }

  friend bool operator==(const FlatMap& a, const FlatMap& b) { return a.v_ == b.v_; }

 private:
  Vec v_;  // sorted by key, keys unique
};

}  // namespace vhsm::hsm
