/* obk_assert.c - the failure path of OBK_ASSERT (see obk_assert.h).
 *
 * Writes one line to standard error with write(2) (no stdio buffers, no allocation: the
 * process may be in any state) and aborts, which leaves a core file where the system keeps
 * them. Any thread. */
#include "base/obk_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void obk_assert_fail(const char *cond, const char *file, int line, const char *func) {
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "=== OBELISK ASSERTION FAILED: %s:%d %s(): %s\n", file, line,
                     func, cond);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg));
        (void)w;
    }
    abort();
}
