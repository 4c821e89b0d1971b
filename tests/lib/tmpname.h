/* tmpname.h - where the tests put their temporary files and directories: under $TMPDIR when it
 * is set (scripts/run-tests.sh gives each program a directory of its own there and fails the
 * program when it leaves anything behind), otherwise under /tmp. */
#ifndef OBK_TMPNAME_H
#define OBK_TMPNAME_H

#include <stddef.h>

/* Room for a template: a test's names below it stay short (socket paths, config lines). */
#define TEST_TMP_MAX 200

/* Writes "<TMPDIR or /tmp>/<prefix>XXXXXX" into buf, a template for mkdtemp or mkstemp; aborts
 * the program when it does not fit in cap (a TMPDIR too long for the tests). */
void test_tmp_template(char *buf, size_t cap, const char *prefix);

#endif
