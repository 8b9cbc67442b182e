#!/usr/bin/env bash
# Installs every Debian package omniroute's build, tests and demo need. Idempotent:
# packages already present are skipped, so a second run does no apt work at all.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  # core stack
  librdkafka-dev libzmq3-dev cppzmq-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libboost-dev libboost-system-dev
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev
  # routing: time zones (with the tz database), rule regexes, language detection
  libhowardhinnant-date-dev tzdata libre2-dev libcld2-dev
  # email: MIME (GMime 3), HTML bodies to text (libxml2)
  libgmime-3.0-dev libxml2-dev
  # SMS and WhatsApp: phone numbers to E.164
  libphonenumber-dev
  # web chat: the widget is tested in headless Chromium through chromedriver
  chromium chromium-driver
  # libFuzzer targets (clang with its sanitizer and fuzzer runtimes)
  clang libclang-rt-14-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # real peers used by tests and integrators' examples
  kcat python3 python3-zmq python3-confluent-kafka python3-protobuf procps python3-aiosmtpd
  dovecot-imapd
  # the agent workspace: argon2id password hashes; its front end is bundled by esbuild
  libsodium-dev esbuild
  # operations: /metrics with prometheus-cpp; promtool (in prometheus) checks it in tests
  prometheus-cpp-dev prometheus
  # used by the README's walk-through
  curl openssl
)

# The front end's npm packages need Node.js and npm: the machine's own when it has them,
# Debian's otherwise.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

# npm packages of the web front ends, exactly as the committed lockfile says; skipped when
# node_modules already matches it.
web_packages() {
  local dir
  for dir in workspace/web; do
    if [ -f "$dir/node_modules/.package-lock.json" ] &&
      [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
      continue
    fi
    echo "install-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
}
cd "$(dirname "$0")/.."

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  web_packages
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
web_packages
