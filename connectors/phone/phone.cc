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

}  // namespace omniroute::connectors::phone
