#!/usr/bin/env bash
# Installs what is missing, builds, and starts the whole stack on the embedded broker.
# Extra arguments go to `omniroute up` (for example --demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
# Desks authenticate with CURVE: a key pair for every agent of the example config that
# has none yet (var/keys/<workspace>/<agent>.key is what `omniroute agent` reads).
build/omniroute agent keygen --all --config config/omniroute.yaml >/dev/null
exec build/omniroute up --config config/omniroute.yaml "$@"
