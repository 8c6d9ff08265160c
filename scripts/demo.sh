#!/usr/bin/env bash
# demo.sh: until the end-to-end flow lands, shows and verifies a real AMD-signed report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vectors=${VHSM_SHARED_DIR:-$root/../shared}/snp-vectors
echo "demo: not yet implemented" >&2
exit 2
