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
