#include "connectors/phone/phone.h"

#include <phonenumbers/phonenumberutil.h>

namespace omniroute::connectors::phone {

std::string to_e164(std::string_view raw, std::string_view region, std::string* why) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  if (raw.empty() || raw.size() > 64) {
    if (why) *why = raw.empty() ? "empty phone number" : "phone number too long";
    return {};
  }
  PhoneNumber number;
  const std::string reg = region.empty() ? std::string("ZZ") : std::string(region);
  if (util.Parse(std::string(raw), reg, &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
    if (why) *why = "not a phone number";
    return {};
  }
  if (!util.IsValidNumber(number)) {
    if (why) *why = "not a valid phone number";
    return {};
  }
  std::string out;
  util.Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

Handle to_handle(std::string_view raw, std::string_view region, std::string* why) {
  std::string reason;
  if (std::string e164 = to_e164(raw, region, &reason); !e164.empty()) return {e164, true};
  std::string digits;
  bool plus = false;
  for (char c : raw) {
    if (c >= '0' && c <= '9')
      digits.push_back(c);
    else if (c == '+' && digits.empty() && !plus)
      plus = true;
    else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.')
      digits = "x";  // letters or other marks: not a number
    if (digits == "x") break;
  }
  if (digits != "x") {
    // E.164: a country code (no leading 0) and at most 15 digits in all.
    if (plus && digits.size() >= 7 && digits.size() <= 15 && digits[0] != '0')
      return {"+" + digits, false};
    if (!plus && digits.size() >= 3 && digits.size() <= 8) return {digits, false};
  }
  if (why) *why = reason;
  return {};
}

}  // namespace omniroute::connectors::phone
