// tests/include_probe/allowed.cpp: a file with the runtime's include path, including
// what the runtime may (its own headers, the IR, stdlib): must build (it is built with
// everything). Its twin backward.cpp must not (the test include_dependencies).
#include "compiler/ir/ir.h"
#include "runtime/engine.h"
#include "stdlib/decimal.h"

int cdr_include_probe_allowed() { return static_cast<int>(sizeof(cdr::ir::Module)); }
