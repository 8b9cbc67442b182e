// Phone numbers as the router links customers by them: E.164 ("+4915112345678"), parsed
// by libphonenumber. A number without a country code is read in the inbox's region.
#pragma once

#include <string>
#include <string_view>

namespace omniroute::connectors::phone {

// "+4915112345678", or "" with `why` set when `raw` is not a valid number. `region` is an
// ISO 3166 code ("US", "DE") for numbers written without a country code.
std::string to_e164(std::string_view raw, std::string_view region, std::string* why = nullptr);

// A customer's number as a handle. Valid numbers are E.164 and verified. Numbers that are
// well-formed but that libphonenumber cannot validate (ranges newer than its metadata) are
// kept as "+<digits>", and short codes (3 to 8 digits) as the digits: both unverified, so
// they are answered but never link customers. "" with `why` when it is no number at all.
struct Handle {
  std::string value;
  bool verified = false;
};
Handle to_handle(std::string_view raw, std::string_view region, std::string* why = nullptr);

}  // namespace omniroute::connectors::phone
