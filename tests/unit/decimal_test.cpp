// tests/unit/decimal_test.cpp: exact decimal arithmetic (CQL Decimal: 8 decimal places).
#include <gtest/gtest.h>

#include "stdlib/decimal.h"

using cdr::stdlib::Decimal;

namespace {

Decimal D(const char* s) {
  auto d = Decimal::Parse(s);
  EXPECT_TRUE(d.has_value()) << s;
  return d.value_or(Decimal{});
}

TEST(Decimal, ParsesAndPrints) {
  EXPECT_EQ(D("5").ToString(), "5.0");
  EXPECT_EQ(D("0.3").ToString(), "0.3");
  EXPECT_EQ(D("-1.25").ToString(), "-1.25");
  EXPECT_EQ(D("0.00000001").ToString(), "0.00000001");
  EXPECT_FALSE(Decimal::Parse("0.000000001").has_value());  // a 9th decimal place
  EXPECT_FALSE(Decimal::Parse("1e5").has_value());
  EXPECT_FALSE(Decimal::Parse("").has_value());
  EXPECT_FALSE(Decimal::Parse("99999999999999999999").has_value());
}

// The brief's example: binary floating point gets this wrong (3.3 - 3.0 = 0.2999...).
// Message formats `{x:.N}`: exactly N places, half away from zero (as CQL's Round).
TEST(Decimal, ToFixedRoundsHalfAwayFromZero) {
  EXPECT_EQ(D("1.00775194").ToFixed(2), "1.01");
  EXPECT_EQ(D("1.125").ToFixed(2), "1.13");
  EXPECT_EQ(D("-1.125").ToFixed(2), "-1.13");
  EXPECT_EQ(D("1.124").ToFixed(2), "1.12");
  EXPECT_EQ(D("2.5").ToFixed(0), "3");
  EXPECT_EQ(D("-2.5").ToFixed(0), "-3");
  EXPECT_EQ(D("-0.004").ToFixed(2), "0.00");  // no "-0.00"
  EXPECT_EQ(D("0.05").ToFixed(1), "0.1");
  EXPECT_EQ(D("7").ToFixed(3), "7.000");
  EXPECT_EQ(D("0.00000001").ToFixed(8), "0.00000001");
  EXPECT_EQ(D("99.995").ToFixed(2), "100.00");
  EXPECT_EQ(Decimal::FromRaw(INT64_MAX).ToFixed(0), "92233720369");
}

TEST(Decimal, SubtractionIsExact) {
  auto diff = Sub(D("3.3"), D("3.0"));
  ASSERT_TRUE(diff);
  EXPECT_TRUE(*diff >= D("0.3"));
  EXPECT_EQ(*diff, D("0.3"));
  EXPECT_FALSE(3.3 - 3.0 >= 0.3);  // why: the double result is 0.29999999999999982
}

TEST(Decimal, MultiplyDivideRoundHalfAwayFromZero) {
  EXPECT_EQ(*Mul(D("1.5"), D("0.011312")), D("0.016968"));
  EXPECT_EQ(*Div(D("1"), D("3")), D("0.33333333"));
  EXPECT_EQ(*Div(D("2"), D("3")), D("0.66666667"));
  EXPECT_EQ(*Div(D("-2"), D("3")), D("-0.66666667"));
  EXPECT_FALSE(Div(D("1"), D("0")).has_value());  // unknown, as CQL's null
}

TEST(Decimal, OverflowIsUnknown) {
  auto big = D("90000000000");
  EXPECT_FALSE(Add(big, big).has_value());
  EXPECT_FALSE(Mul(big, big).has_value());
}

TEST(Decimal, Ordering) {
  EXPECT_LT(D("36.0"), D("36.00000001"));
  EXPECT_EQ(D("36.0"), D("36"));
}

}  // namespace
