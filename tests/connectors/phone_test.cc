// Phone numbers: E.164 for valid numbers, unverified handles for what cannot be validated.
#include "connectors/phone/phone.h"

#include <gtest/gtest.h>

namespace omniroute::connectors::phone {
namespace {

TEST(Phone, NationalNumbersBecomeE164InTheInboxRegion) {
  EXPECT_EQ(to_e164("030 1234567", "DE"), "+49301234567");
  EXPECT_EQ(to_e164("+1 (415) 555-2671", "DE"), "+14155552671");
  std::string why;
  EXPECT_EQ(to_e164("not a number", "US", &why), "");
  EXPECT_FALSE(why.empty());
}

TEST(Phone, HandlesAreVerifiedOnlyWhenValid) {
  auto valid = to_handle("+14155552671", "US");
  EXPECT_EQ(valid.value, "+14155552671");
  EXPECT_TRUE(valid.verified);
  auto short_code = to_handle("72345", "US");
  EXPECT_EQ(short_code.value, "72345");
  EXPECT_FALSE(short_code.verified) << "short codes never link customers";
  std::string why;
  EXPECT_EQ(to_handle("hello", "US", &why).value, "");
}

}  // namespace
}  // namespace omniroute::connectors::phone
