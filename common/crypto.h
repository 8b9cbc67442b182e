// Message authentication helpers shared by connectors and tests (OpenSSL underneath).
#pragma once

#include <string>
#include <string_view>

namespace omniroute::crypto {

// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// SHA-256 of `data`, lower-case hex.
std::string sha256_hex(std::string_view data);

// Compares in time independent of where the inputs differ (signature checks).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace omniroute::crypto
