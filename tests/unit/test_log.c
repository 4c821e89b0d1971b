/* test_log.c - the log's destination can change (CONFIG SET logfile, log rotation) while another
 * thread logs: every line lands whole in one of the log files, and never in a file opened right
 * after the swap (the old code closed the descriptor a writer was using, and the next open took
 * its number, so log lines could land in a data file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/log.h"
#include "tmpname.h"

static _Atomic int stop_logging;
static _Atomic long lines_logged;

static void *logger(void *arg) {
    (void)arg;
    log_set_role('P');
    while (!stop_logging) {
        log_msg(LOG_WARNING, "persist line");
        lines_logged++;
    }
    return NULL;
}

static off_t size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_swap_while_logging(void **state) {
    (void)state;
    char dir[TEST_TMP_MAX];
    test_tmp_template(dir, sizeof dir, "obelisk-log.");
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], data[256];
    snprintf(a, sizeof(a), "%s/a.log", dir);
    snprintf(b, sizeof(b), "%s/b.log", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    assert_int_equal(log_setup(LOG_NOTICE, a), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, logger, NULL), 0);
    for (int i = 0; i < 2000 || lines_logged < 20000; i++) { /* both threads get to run */
        assert_int_equal(log_setup(LOG_NOTICE, i % 2 ? a : b), 0);
        int fd = open(data, O_WRONLY | O_CREAT | O_APPEND, 0600); /* a "data file" */
        assert_true(fd >= 0);
        close(fd);
    }
    stop_logging = 1;
    pthread_join(t, NULL);
    assert_int_equal(log_setup(LOG_NOTICE, ""), 0);
    assert_int_equal(size_of(data), 0); /* no log line ever landed in it */
    assert_true(size_of(a) + size_of(b) > 0);
    unlink(a);
    unlink(b);
    unlink(data);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swap_while_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
