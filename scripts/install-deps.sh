#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages vhsm builds and tests with, only if missing.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build lld pkg-config clang libclang-rt-14-dev
  libssl-dev openssl libgtest-dev libgmock-dev googletest libbenchmark-dev
  nlohmann-json3-dev libcpp-httplib-dev libtomlplusplus-dev libcli11-dev
  libsqlite3-dev sqlite3 libpq-dev libp11-kit-dev nettle-dev libgmp-dev
  softhsm2 opensc gnutls-bin libengine-pkcs11-openssl ovmf
  postgresql python3 python3-jwt python3-cryptography
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
