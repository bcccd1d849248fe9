// tests/decimal/decimal_math_driver.cpp: reads `power A B`, `ln A`, `exp A`, `log A B`
// lines (decimals as text) and prints each result as the language prints a decimal
// (`null` for unknown), one per line: the side of cdr that decimal_math_check.py
// compares with Python's decimal module.
#include <iostream>
#include <sstream>
#include <string>

#include "stdlib/decimal.h"
#include "stdlib/decimal_math.h"

int main() {
  using cdr::stdlib::Decimal;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string op, a_text, b_text;
    in >> op >> a_text >> b_text;
    auto a = Decimal::Parse(a_text);
    auto b = b_text.empty() ? std::optional<Decimal>(Decimal::FromRaw(0)) : Decimal::Parse(b_text);
    if (!a || !b) {
      std::cout << "bad input\n";
      continue;
    }
    std::optional<Decimal> r;
    if (op == "power") r = cdr::stdlib::Power(*a, *b);
    else if (op == "ln") r = cdr::stdlib::Ln(*a);
    else if (op == "exp") r = cdr::stdlib::Exp(*a);
    else if (op == "log") r = cdr::stdlib::Log(*a, *b);
    std::cout << (r ? r->ToString() : "null") << "\n";
  }
  return 0;
}
