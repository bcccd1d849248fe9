// tests/include_probe/backward.cpp: a file with the runtime's include path, including a
// header of the checker, an earlier stage the runtime must not depend on. The test
// include_dependencies builds it and expects the compiler to find no such header.
#include "compiler/sema/check.h"

int cdr_include_probe_backward() { return 0; }
