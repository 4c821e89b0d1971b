/* test_stream_breadth.c - stream commands of Redis versions after 7.0, against a real server,
 * byte for byte as redis.io documents them: XREAD's "+" ID (7.4) with COUNT and BLOCK. */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static void send_cmd(int fd, const char *s) {
    assert_int_equal(raw_send_str(fd, s), 0);
}

/* One entry [id, [f, v]] with one-byte field and value names, as RESP2 bytes. */
#define ENTRY(id, f, v) "*2\r\n$3\r\n" id "\r\n*2\r\n$1\r\n" f "\r\n$1\r\n" v "\r\n"

static void test_xread_plus_last_entry(void **state) {
    (void)state;
    /* "+" returns the last entry only, whatever COUNT says. */
    expect_raw("XADD p 1-1 a 1\r\nXADD p 2-1 b 2\r\nXREAD STREAMS p +\r\n"
               "XREAD COUNT 5 STREAMS p +\r\n",
               "$3\r\n1-1\r\n$3\r\n2-1\r\n"
               "*1\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY(
                   "2-1", "b", "2") "*1\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY("2-1", "b", "2"));
    /* Several streams, "+" beside "$" and an explicit ID; a missing key gives nothing. */
    expect_raw("XADD q 7-1 c 3\r\nXREAD STREAMS p q nokey + 0 +\r\nXREAD STREAMS p q $ $\r\n"
               "XREAD STREAMS nokey +\r\n",
               "$3\r\n7-1\r\n"
               "*2\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY(
                   "2-1", "b", "2") "*2\r\n$1\r\nq\r\n"
                                    "*1\r\n" ENTRY("7-1", "c", "3") "*-1\r\n*-1\r\n");
    /* A BLOCK that has the last entry answers at once. */
    expect_raw("XREAD BLOCK 0 STREAMS p +\r\n",
               "*1\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY("2-1", "b", "2"));
}

static void test_xread_plus_deleted_last_and_block(void **state) {
    (void)state;
    /* The last entry deleted: "+" finds nothing (it does not fall back to an older one). */
    expect_raw("XADD d 1-1 a 1\r\nXADD d 2-1 b 2\r\nXDEL d 2-1\r\nXREAD STREAMS d +\r\n",
               "$3\r\n1-1\r\n$3\r\n2-1\r\n:1\r\n*-1\r\n");
    /* A BLOCK then waits and is served with what comes after the deleted last ID. */
    int fd = raw_connect(shared_server.port);
    send_cmd(fd, "XREAD BLOCK 5000 COUNT 10 STREAMS d +\r\n");
    usleep(100000);
    expect_raw("XADD d 3-1 c 3\r\n", "$3\r\n3-1\r\n");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$1\r\nd\r\n*1\r\n" ENTRY("3-1", "c", "3")));
    /* A missing key reads from 0-0: the first entry added wakes the reader. */
    send_cmd(fd, "XREAD BLOCK 5000 STREAMS dnew +\r\n");
    usleep(100000);
    expect_raw("XADD dnew 5-1 e 5\r\n", "$3\r\n5-1\r\n");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$4\r\ndnew\r\n*1\r\n" ENTRY("5-1", "e", "5")));
    /* Served at once while the last entry exists; once it is deleted, a timeout (null). */
    send_cmd(fd, "XREAD BLOCK 50 STREAMS d +\r\n");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$1\r\nd\r\n*1\r\n" ENTRY("3-1", "c", "3")));
    send_cmd(fd, "XDEL d 3-1\r\nXREAD BLOCK 50 STREAMS d +\r\n");
    assert_true(raw_expect(fd, ":1\r\n*-1\r\n"));
    close(fd);
}

static void test_xread_plus_errors(void **state) {
    (void)state;
    /* A stream that never had an entry has no ID below its last one (0-0). */
    expect_raw(
        "XGROUP CREATE e g $ MKSTREAM\r\nXREAD STREAMS e +\r\nXREAD BLOCK 10 STREAMS e +\r\n",
        "+OK\r\n-ERR the stream last element ID is 0-0\r\n"
        "-ERR the stream last element ID is 0-0\r\n");
    expect_raw("XADD e 1-1 a 1\r\nXREADGROUP GROUP g c STREAMS e +\r\n",
               "$3\r\n1-1\r\n"
               "-ERR The + ID is meaningless in the context of XREADGROUP: you want to read the "
               "history of this consumer by specifying a proper ID, or use the > ID to get new "
               "messages. The + ID would just return an empty result set.\r\n");
    /* "+" is the whole argument: "+1" or "++" are not IDs. */
    expect_raw("XREAD STREAMS e ++\r\n",
               "-ERR Invalid stream ID specified as stream command argument\r\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xread_plus_last_entry),
        cmocka_unit_test(test_xread_plus_deleted_last_and_block),
        cmocka_unit_test(test_xread_plus_errors),
    };
    return cmocka_run_group_tests_name("stream_breadth", tests, shared_server_setup,
                                       shared_server_teardown);
}
