#!/usr/bin/env bash
# configure.sh PRESET: `cmake --preset PRESET`, first dropping a CMake cache made by another
# generator (the presets moved from Unix Makefiles to Ninja; cmake refuses to switch in place).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: configure.sh PRESET}
case "$preset" in
  dev) dir=build ;;
  *) dir=build-$preset ;;
esac
if [[ -f "$dir/CMakeCache.txt" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
  echo "configure: $dir was made by another generator; reconfiguring it for Ninja"
  rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
fi
exec cmake --preset "$preset"
