/* test_config.c - config parsing without a server: file syntax (comments, quotes, units,
 * include), command-line options, CONFIG GET patterns, CONFIG SET all-or-nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/util.h"
#include "server/config.h"
#include "tmpname.h"

static char tmpdir[TEST_TMP_MAX];

static int setup(void **state) {
    (void)state;
    test_tmp_template(tmpdir, sizeof(tmpdir), "obelisk-cfg.");
    if (!mkdtemp(tmpdir)) return -1;
    config_init_defaults();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    config_free();
    char cmd[TEST_TMP_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_defaults(void **state) {
    (void)state;
    assert_int_equal(server_config.port, 6379);
    assert_int_equal(server_config.bind_count, 2);
    assert_string_equal(server_config.bind[0], "127.0.0.1");
    assert_int_equal(server_config.databases, 16);
    assert_int_equal(server_config.proto_max_bulk_len, 512LL * 1024 * 1024);
    assert_int_equal(server_config.client_query_buffer_limit, 1024LL * 1024 * 1024);
    assert_int_equal(server_config.obuf[OBUF_REPLICA].hard_bytes, 268435456);
    assert_string_equal(server_config.requirepass, "");
}

static void test_file_syntax(void **state) {
    (void)state;
    char inc[TEST_TMP_MAX + 32], main_path[TEST_TMP_MAX + 32], text[512], err[1024];
    write_file("inc.conf", "databases 4\n", inc, sizeof(inc));
    snprintf(text, sizeof(text),
             "# comment\n\n\t port 7000  \nbind 127.0.0.1 ::1\nrequirepass \"a b\\x21\"\n"
             "proto-max-bulk-len 2mb\nclient-query-buffer-limit 2m\ninclude %s\n"
             "client-output-buffer-limit normal 1gb 1g 5\nLogLevel warning\n",
             inc);
    write_file("main.conf", text, main_path, sizeof(main_path));
    assert_int_equal(config_load(main_path, NULL, err, sizeof(err)), 0);
    assert_int_equal(server_config.port, 7000);
    assert_int_equal(server_config.bind_count, 2);
    assert_string_equal(server_config.bind[1], "::1");
    assert_string_equal(server_config.requirepass, "a b!");
    assert_int_equal(server_config.proto_max_bulk_len, 2 * 1024 * 1024);
    assert_int_equal(server_config.client_query_buffer_limit, 2000000);
    assert_int_equal(server_config.databases, 4);
    assert_int_equal(server_config.obuf[OBUF_NORMAL].hard_bytes, 1024LL * 1024 * 1024);
    assert_int_equal(server_config.obuf[OBUF_NORMAL].soft_bytes, 1000LL * 1000 * 1000);
    assert_int_equal(server_config.obuf[OBUF_NORMAL].soft_seconds, 5);
    assert_int_equal(server_config.loglevel, 3);
}

static void test_file_errors(void **state) {
    (void)state;
    char path[TEST_TMP_MAX + 32], err[1024];
    write_file("bad.conf", "port 1\n\nbogus 2\n", path, sizeof(path));
    assert_int_equal(config_load(path, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at line 3"));
    assert_non_null(strstr(err, ">>> 'bogus 2'"));
    assert_non_null(strstr(err, "Bad directive or wrong number of arguments"));
    write_file("bad2.conf", "maxclients 0\n", path, sizeof(path));
    assert_int_equal(config_load(path, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "argument must be between 1 and"));
    write_file("loop.conf", "", path, sizeof(path));
    char text[256];
    snprintf(text, sizeof(text), "include %s\n", path);
    write_file("loop.conf", text, path, sizeof(path));
    assert_int_equal(config_load(path, NULL, err, sizeof(err)), -1);
    assert_int_equal(config_load("/nonexistent/x.conf", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "can't open config file"));
}

static void test_command_line(void **state) {
    (void)state;
    char *argv[] = {"--port",          "0",         "--requirepass", "has space",
                    "--bind",          "127.0.0.1", "::1",           "--client-output-buffer-limit",
                    "normal 1mb 2mb 3"};
    char *lines = config_args_to_lines(9, argv);
    assert_string_equal(lines, "port 0\nrequirepass \"has space\"\nbind 127.0.0.1 ::1\n"
                               "client-output-buffer-limit \"normal 1mb 2mb 3\"\n");
    char err[1024];
    assert_int_equal(config_load(NULL, lines, err, sizeof(err)), 0);
    free(lines);
    assert_int_equal(server_config.port, 0);
    assert_string_equal(server_config.requirepass, "has space");
    assert_int_equal(server_config.bind_count, 2);
    assert_int_equal(server_config.obuf[OBUF_NORMAL].soft_seconds, 3);
}

static void emit(void *ctx, const char *name, const char *value) {
    char *out = ctx;
    sprintf(out + strlen(out), "%s=%s;", name, value);
}

static void test_get_set(void **state) {
    (void)state;
    char out[4096] = "", err[512];
    const char *pats[] = {"max*", "TIMEOUT"};
    size_t lens[] = {4, 7};
    config_get(pats, lens, 2, emit, out);
    /* exact names echo as given */
    assert_string_equal(out, "maxclients=10000;max-open-files-storage=4096;TIMEOUT=0;");
    char *set1[] = {"timeout", "5", "maxclients", "99"};
    size_t l1[] = {7, 1, 10, 2};
    assert_int_equal(config_set(set1, l1, 4, err, sizeof(err)), 0);
    assert_int_equal(server_config.timeout, 5);
    assert_int_equal(server_config.maxclients, 99);
    char *set2[] = {"requirepass", "new", "timeout", "nan"};
    size_t l2[] = {11, 3, 7, 3};
    assert_int_equal(config_set(set2, l2, 4, err, sizeof(err)), -1);
    assert_string_equal(server_config.requirepass, ""); /* rolled back */
    assert_int_equal(server_config.timeout, 5);
    char *set3[] = {"bind", "127.0.0.1 ::1 -::2"};
    size_t l3[] = {4, 17};
    assert_int_equal(config_set(set3, l3, 2, err, sizeof(err)), 0);
    assert_int_equal(server_config.bind_count, 3);
    char *set4[] = {"dir", "/x"};
    size_t l4[] = {3, 2};
    assert_int_equal(config_set(set4, l4, 2, err, sizeof(err)), -1);
    assert_string_equal(err, "ERR CONFIG SET failed (possibly related to argument 'dir') - can't "
                             "set immutable config");
}

/* Found by fuzz/fuzz_config: `bind 1.2.3.4 ""` was taken, and CONFIG GET then said
 * "1.2.3.4 " which loads back as one address. Every bind address must survive CONFIG GET:
 * empty ones and ones holding spaces or quotes are refused, and the old list stays. */
static void test_bind_address_roundtrip(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(config_load(NULL, "bind 10.0.0.1 \"\"\n", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bind address"));
    assert_int_equal(config_load(NULL, "bind \"10.0.0.1 10.0.0.2\"\n", err, sizeof(err)), 0);
    assert_int_equal(server_config.bind_count, 2); /* one argument with spaces: split */
    assert_int_equal(config_load(NULL, "bind '10.0.0.1\"'\n", err, sizeof(err)), -1);
    char *set[] = {"bind", "10.0.0.3 \"\""};
    size_t l[] = {4, 14};
    assert_int_equal(config_set(set, l, 2, err, sizeof(err)), -1);
    assert_int_equal(server_config.bind_count, 2);
    assert_string_equal(server_config.bind[1], "10.0.0.2");
    char *opt[] = {"--bind", "-"};
    char *lines = config_args_to_lines(2, opt);
    assert_int_equal(config_load(NULL, lines, err, sizeof(err)), -1); /* "-" names nothing */
    free(lines);
    /* http-bind is a list too, with the same rule (fuzz_config found 'x ""' read back as 'x ') */
    assert_int_equal(config_load(NULL, "http-bind yteoe \"\"\n", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bind address"));
    assert_int_equal(config_load(NULL, "http-bind 127.0.0.1 -::1\n", err, sizeof(err)), 0);
    assert_string_equal(server_config.http_bind, "127.0.0.1 -::1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_address_roundtrip, setup, teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
