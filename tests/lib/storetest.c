/* storetest.c - helpers shared by the storage unit tests (see storetest.h). */
#include "storetest.h"
#include "tmpname.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/store.h"

void storetest_tmpdir(char *dir, size_t cap, const char *tag) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "obk_%s_", tag);
    test_tmp_template(dir, cap, prefix);
    assert_non_null(mkdtemp(dir));
}

void storetest_rmdir(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.img'", dir, dir); /* and its crash image, if any */
    assert_int_equal(system(cmd), 0);
}

void storetest_commit(struct store *s) {
    assert_int_equal(store_flush(s, 1), OBK_OK);
    /* the last submitted: nothing is pending after a forced flush */
    uint64_t want = store_pending_seq(s), durable = 0;
    int err = 0;
    for (int i = 0; i < 5000 && durable < want; i++) {
        struct pollfd p = {store_eventfd(s), POLLIN, 0};
        poll(&p, 1, 10);
        store_poll(s, &durable, &err);
        assert_int_equal(err, OBK_OK);
    }
    assert_true(durable >= want);
}

void storetest_image_take(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s.img' && cp -a '%s' '%s.img'", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}

void storetest_image_restore(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s.img' '%s'", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}
