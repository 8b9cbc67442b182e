#!/usr/bin/env bash
# Installs what is missing, builds, and starts the whole stack on the embedded broker.
# Extra arguments go to `omniroute up` (for example --demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/omniroute up --config config/omniroute.yaml "$@"
