/* tmpname.c - temporary names for the tests under $TMPDIR (see tmpname.h). */
#include "tmpname.h"

#include <stdio.h>
#include <stdlib.h>

void test_tmp_template(char *buf, size_t cap, const char *prefix) {
    const char *t = getenv("TMPDIR");
    const char *base = t && *t ? t : "/tmp";
    int n = snprintf(buf, cap, "%s/%sXXXXXX", base, prefix);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "TMPDIR is too long for the tests' temporary names: %s\n", base);
        abort();
    }
}
