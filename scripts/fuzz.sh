#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (coverage and AddressSanitizer on the code under
# test; the rest links from the normal build) and runs each briefly from its seed corpus.
# Usage: scripts/fuzz.sh [runs per target, default 50000]. Needs scripts/build.sh first.
# A fixed seed and run count make a CI run repeatable: the same inputs every time (a longer,
# random exploration: FUZZ_SEED=0 scripts/fuzz.sh 5000000).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-50000}"
SEED="${FUZZ_SEED:-1}"
BUILD_DIR="${BUILD_DIR:-build}"
OUT="$BUILD_DIR/fuzz"
mkdir -p "$OUT"
PKGS="gmime-3.0 libxml-2.0 re2 protobuf openssl fmt"
# shellcheck disable=SC2046
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. -I"$BUILD_DIR/schemas/gen" $(pkg-config --cflags $PKGS) \
  tests/fuzz/email_normalize_fuzz.cc connectors/email/mime.cc connectors/email/text.cc \
  connectors/email/message_id.cc \
  common/crypto.cc \
  "$BUILD_DIR/schemas/libomniroute_schemas.a" \
  $(pkg-config --libs $PKGS) -o "$OUT/email_normalize_fuzz"
# Corpus: the email test corpus as seeds; what the fuzzer finds stays in the build dir.
mkdir -p "$OUT/email-corpus"
cp -n tests/connectors/email/corpus/*.eml "$OUT/email-corpus/" 2>/dev/null || true
ASAN_OPTIONS=detect_leaks=1 "$OUT/email_normalize_fuzz" -runs="$RUNS" -seed="$SEED" \
  -artifact_prefix="$OUT/" -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 "$OUT/email-corpus" \
  2>&1 | tail -15
echo "fuzz: email normalizer ran ${RUNS} inputs (seed ${SEED}) without a crash"

# The SMS and social webhook parsers, each from its seed corpus (tests/fuzz/corpus/).
fuzz_target() {
  local name="$1" corpus="$2"
  shift 2
  # shellcheck disable=SC2046
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I. -I"$BUILD_DIR/schemas/gen" $(pkg-config --cflags protobuf openssl fmt libcurl) \
    "tests/fuzz/${name}.cc" "$@" common/crypto.cc common/utf8.cc connectors/phone/phone.cc \
    "$BUILD_DIR/schemas/libomniroute_schemas.a" \
    $(pkg-config --libs protobuf openssl fmt libcurl) -lphonenumber -o "$OUT/$name"
  mkdir -p "$OUT/$corpus-corpus"
  cp -n tests/fuzz/corpus/"$corpus"/* "$OUT/$corpus-corpus/" 2>/dev/null || true
  ASAN_OPTIONS=detect_leaks=1 "$OUT/$name" -runs="$RUNS" -seed="$SEED" -artifact_prefix="$OUT/" \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$OUT/$corpus-corpus" \
    2>&1 | tail -4
  echo "fuzz: $name ran ${RUNS} inputs (seed ${SEED}) without a crash"
}
fuzz_target sms_webhook_fuzz sms connectors/sms/twilio.cc connectors/http/form.cc
fuzz_target social_webhook_fuzz social connectors/social/meta.cc connectors/telegram/parse.cc
