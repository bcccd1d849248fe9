// tests/unit/units_test.cpp: UCUM parsing, dimensions and conversions, checked against
// the UCUM definitions (https://ucum.org/ucum) and standard clinical conversions.
#include <gtest/gtest.h>

#include "stdlib/units.h"

using cdr::stdlib::Convert;
using cdr::stdlib::Decimal;
using cdr::stdlib::ParseUnit;
using cdr::stdlib::Unit;

namespace {

Unit U(const char* s) {
  std::string why;
  auto u = ParseUnit(s, &why);
  EXPECT_TRUE(u.has_value()) << s << ": " << why;
  return u.value_or(cdr::stdlib::One());
}

std::string Conv(const char* value, const char* from, const char* to) {
  auto v = Convert(*Decimal::Parse(value), U(from), U(to));
  return v ? v->ToString() : "none";
}

TEST(Units, ParsesTheIssueList) {
  for (const char* u : {"/min", "mm[Hg]", "Cel", "[degF]", "%", "1", "mg/dL", "g/dL", "g/L", "mmol/L", "umol/L",
                        "mEq/L", "10*3/uL", "10*9/L", "U/L", "ng/mL", "kg", "g", "L", "mL", "mL/h", "mL/kg/h", "s",
                        "min", "h", "d", "wk", "[pH]"}) {
    U(u);
  }
}

TEST(Units, RejectsUnknownUnits) {
  std::string why;
  EXPECT_FALSE(ParseUnit("mmHg", &why).has_value());
  EXPECT_NE(why.find("mmHg"), std::string::npos);
  EXPECT_FALSE(ParseUnit("mg/", &why).has_value());
  EXPECT_FALSE(ParseUnit("(mg", &why).has_value());
}

// Fahrenheit to Celsius: C = (F - 32) * 5/9. 100.4 F = 38.0 C; 98.6 F = 37.0 C.
TEST(Units, AffineTemperature) {
  EXPECT_EQ(Conv("100.4", "[degF]", "Cel"), "38.0");
  EXPECT_EQ(Conv("98.6", "[degF]", "Cel"), "37.0");
  EXPECT_EQ(Conv("38", "Cel", "[degF]"), "100.4");
  EXPECT_EQ(Conv("0", "Cel", "K"), "273.15");
  EXPECT_EQ(Conv("-40", "[degF]", "Cel"), "-40.0");
}

TEST(Units, ClinicalConversions) {
  EXPECT_EQ(Conv("1", "mg/dL", "g/L"), "0.01");
  EXPECT_EQ(Conv("7.4", "g/dL", "g/L"), "74.0");
  EXPECT_EQ(Conv("5.5", "10*9/L", "10*3/uL"), "5.5");  // both are 10^12 per m3
  EXPECT_EQ(Conv("4.2", "mEq/L", "mmol/L"), "4.2");    // UCUM: eq is mol (monovalent ions)
  EXPECT_EQ(Conv("1", "mm[Hg]", "kPa"), "0.133322");   // UCUM: m[Hg] = 133.3220 kPa
  EXPECT_EQ(Conv("2", "h", "min"), "120.0");
  EXPECT_EQ(Conv("1", "wk", "d"), "7.0");
  EXPECT_EQ(Conv("45", "%", "1"), "0.45");
  EXPECT_EQ(Conv("1", "L", "mL"), "1000.0");
  EXPECT_EQ(Conv("60", "mL/h", "mL/min"), "1.0");
}

TEST(Units, DimensionsDecideCommensurability) {
  EXPECT_TRUE(U("mg/dL").CommensurableWith(U("g/L")));
  EXPECT_FALSE(U("mg/dL").CommensurableWith(U("mmol/L")));  // needs a molar mass: a schema `convert`
  EXPECT_FALSE(U("/min").CommensurableWith(U("mm[Hg]")));
  EXPECT_FALSE(U("[pH]").CommensurableWith(U("1")));
  EXPECT_FALSE(U("[iU]/L").CommensurableWith(U("U/L")));
  EXPECT_EQ(Conv("1", "mg/dL", "mmol/L"), "none");
  EXPECT_TRUE(U("mL/kg/h").CommensurableWith(U("L/g/s")));
  EXPECT_EQ(U("mm[Hg]").dim.ToString(), "mass/length\u00b7time^2");
}

TEST(Units, ProductsAndQuotients) {
  auto per_hour = cdr::stdlib::Divide(U("mg/dL"), U("h"));
  EXPECT_EQ(per_hour.text, "mg/dL/h");
  EXPECT_TRUE(per_hour.CommensurableWith(U("g/L/s")));
  auto conv = Convert(*Decimal::Parse("3600"), per_hour, U("mg/dL/s"));
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->ToString(), "1.0");
}

// Found by fuzz_event: factors of huge units overflowed 128-bit arithmetic (undefined
// behaviour). They are now refused, and products that overflow convert to nothing.
TEST(Units, HugeFactorsAreRefusedNotOverflowed) {
  std::string why;
  EXPECT_FALSE(ParseUnit("Tm12", &why).has_value());
  EXPECT_NE(why.find("out of range"), std::string::npos) << why;
  EXPECT_FALSE(ParseUnit("10*18.10*18.10*18", &why).has_value());
  EXPECT_FALSE(ParseUnit("(Tg.Tg.Tg)2", &why).has_value());
  auto big = cdr::stdlib::Multiply(U("Tg"), U("Tg"));
  for (int i = 0; i < 6; ++i) big = cdr::stdlib::Multiply(big, U("Tg"));
  EXPECT_TRUE(big.out_of_range);
  EXPECT_FALSE(cdr::stdlib::LinearConversion(big, big).has_value());
}

}  // namespace
