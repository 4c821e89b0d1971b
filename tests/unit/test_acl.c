/* test_acl.c - acl.c without a server: rules applied all or nothing, the descriptions Redis 7.0's
 * method gives (categories that fit best, then single commands, a container before its
 * subcommands; with this small table a category often fits where Redis's would not), subcommand
 * and first-argument rules, key patterns with read/write permissions, channel patterns (a
 * PSUBSCRIBE pattern literally), passwords as SHA-256, and the ACL log's grouping and cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/sbuf.h"
#include "server/acl.h"
#include "server/acl_log.h"
#include "server/config.h"

#define CAT(x) (1u << ACL_CAT_##x)
static int id_xadd, id_xrange, id_keys, id_select, id_config, id_config_get, id_config_set;

static int setup(void **state) {
    (void)state;
    config_init_defaults();
    id_xadd = acl_register_command("xadd", CAT(WRITE) | CAT(STREAM) | CAT(FAST), -1);
    id_xrange = acl_register_command("xrange", CAT(READ) | CAT(STREAM) | CAT(SLOW), -1);
    id_keys =
        acl_register_command("keys", CAT(KEYSPACE) | CAT(READ) | CAT(SLOW) | CAT(DANGEROUS), -1);
    id_select = acl_register_command("select", CAT(CONNECTION) | CAT(FAST), -1);
    id_config = acl_register_command("config", 0, -1);
    id_config_get =
        acl_register_command("config|get", CAT(ADMIN) | CAT(SLOW) | CAT(DANGEROUS), id_config);
    id_config_set =
        acl_register_command("config|set", CAT(ADMIN) | CAT(SLOW) | CAT(DANGEROUS), id_config);
    char err[256];
    return acl_init(err, sizeof(err));
}

static int teardown(void **state) {
    (void)state;
    acl_free();
    config_free();
    return 0;
}

static int set(const char *name, const char *rules, char *err, size_t errlen) {
    char **argv = NULL;
    size_t lens[32];
    char *copy = strdup(rules), *save = NULL;
    int n = 0;
    argv = calloc(32, sizeof(char *));
    for (char *t = strtok_r(copy, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save)) {
        argv[n] = t;
        lens[n++] = strlen(t);
    }
    int rc = acl_setuser(name, strlen(name), n, argv, lens, err, errlen);
    free(argv);
    free(copy);
    return rc;
}

static void expect_line(const char *name, const char *want) {
    struct sbuf b;
    sbuf_init(&b);
    acl_describe_user(acl_user_find(name, strlen(name)), &b);
    assert_string_equal(b.p, want);
    sbuf_free(&b);
}

static void test_describe_like_redis(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(set("a", "on nopass", err, sizeof err), 0);
    expect_line("a", "user a on nopass resetchannels -@all");
    assert_int_equal(set("a", "+@all -xrange", err, sizeof err), 0);
    expect_line("a", "user a on nopass resetchannels +@all -xrange");
    /* xadd is this table's only @write command: removing it reads as -@write */
    assert_int_equal(set("a", "+xrange -xadd", err, sizeof err), 0);
    expect_line("a", "user a on nopass resetchannels +@all -@write");
    /* a category that fits is written as one; the rest as single commands */
    assert_int_equal(set("b", "+@stream", err, sizeof err), 0);
    expect_line("b", "user b off resetchannels -@all +@stream");
    assert_int_equal(set("b", "-xadd", err, sizeof err), 0);
    expect_line("b", "user b off resetchannels -@all +xrange");
    /* a container set whole is written whole; one subcommand alone by its full name */
    assert_int_equal(set("c", "+config", err, sizeof err), 0);
    expect_line("c", "user c off resetchannels -@all +@admin +config");
    assert_int_equal(set("c", "-config|set", err, sizeof err), 0);
    expect_line("c", "user c off resetchannels -@all +config -config|set");
    assert_int_equal(set("c", "-config +config|get", err, sizeof err), 0);
    expect_line("c", "user c off resetchannels -@all +config|get");
    /* first arguments of a command without subcommands */
    assert_int_equal(set("d", "+select|0 +select|1", err, sizeof err), 0);
    expect_line("d", "user d off resetchannels -@all +select|0 +select|1");
    const struct acl_user *d = acl_user_find("d", 1);
    char *sel0[] = {"select", "0"}, *sel2[] = {"select", "2"};
    size_t l[] = {6, 1};
    assert_true(acl_check_command(d, id_select, 2, sel0, l));
    assert_false(acl_check_command(d, id_select, 2, sel2, l));
    assert_int_equal(set("d", "+select", err, sizeof err), 0);
    expect_line("d", "user d off resetchannels -@all +@connection"); /* its only member */
    assert_true(acl_check_command(acl_user_find("d", 1), id_select, 2, sel2, l));
    (void)id_keys, (void)id_config_get, (void)id_config_set, (void)id_xrange, (void)id_xadd;
}

static void test_rules_all_or_nothing(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(set("e", "on >pw ~k:*", err, sizeof err), 0);
    assert_int_equal(set("e", "off ~x:* +nosuch", err, sizeof err), -1);
    assert_string_equal(err, "Error in ACL SETUSER modifier '+nosuch': Unknown command or "
                             "category name in ACL");
    expect_line("e", "user e on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
                     "~k:* resetchannels -@all");
    assert_int_equal(set("f", "on +nosuch", err, sizeof err), -1);
    assert_null(acl_user_find("f", 1)); /* never created */
    assert_int_equal(set("e", "+config|nosuch", err, sizeof err), -1);
    assert_int_equal(set("e", "-select|0", err, sizeof err), -1);
    assert_int_equal(set("e", "(~x +@all) +nosuch", err, sizeof err), -1);
    expect_line("e", "user e on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
                     "~k:* resetchannels -@all"); /* the selector went with the bad rule */
    assert_int_equal(set("e", "allkeys ~x", err, sizeof err), -1);
    assert_int_equal(set("e", "allchannels &x", err, sizeof err), -1);
    assert_int_equal(set("e", "%Q~x", err, sizeof err), -1);
    assert_int_equal(set("e", "<nope", err, sizeof err), -1);
    assert_non_null(strstr(err, "does not exist"));
}

static void test_passwords(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(set("p", "on >one >two", err, sizeof err), 0);
    assert_non_null(acl_authenticate("p", 1, "one", 3));
    assert_non_null(acl_authenticate("p", 1, "two", 3));
    assert_null(acl_authenticate("p", 1, "three", 5));
    assert_null(acl_authenticate("P", 1, "one", 3)); /* names are exact */
    assert_int_equal(set("p", "<one", err, sizeof err), 0);
    assert_null(acl_authenticate("p", 1, "one", 3));
    assert_int_equal(set("p", "off", err, sizeof err), 0);
    assert_null(acl_authenticate("p", 1, "two", 3)); /* off: no one logs in */
    assert_int_equal(set("p", "on nopass", err, sizeof err), 0);
    assert_non_null(acl_authenticate("p", 1, "anything", 8));
    assert_int_equal(set("p", "resetpass", err, sizeof err), 0);
    assert_null(acl_authenticate("p", 1, "anything", 8));
    /* requirepass is the default user's password */
    assert_false(acl_default_needs_auth());
    acl_set_requirepass("secret");
    assert_true(acl_default_needs_auth());
    assert_non_null(acl_authenticate("default", 7, "secret", 6));
    acl_set_requirepass("");
    assert_false(acl_default_needs_auth());
}

static void test_keys_and_channels(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(set("k", "~rw:* %R~r:* %W~w:* &news.* &exact", err, sizeof err), 0);
    const struct acl_user *k = acl_user_find("k", 1);
    assert_true(acl_check_key(k, "rw:1", 4, ACL_KEY_READ | ACL_KEY_WRITE));
    assert_true(acl_check_key(k, "r:1", 3, ACL_KEY_READ));
    assert_false(acl_check_key(k, "r:1", 3, ACL_KEY_WRITE));
    assert_true(acl_check_key(k, "w:1", 3, ACL_KEY_WRITE));
    assert_false(acl_check_key(k, "w:1", 3, ACL_KEY_READ));
    assert_true(acl_check_key(k, "w:1", 3, 0)); /* looked at only: any pattern */
    assert_false(acl_check_key(k, "other", 5, 0));
    assert_true(acl_check_channel(k, "news.today", 10, 0));
    assert_false(acl_check_channel(k, "sports", 6, 0));
    assert_true(acl_check_channel(k, "news.*", 6, 1));        /* the same pattern, literally */
    assert_false(acl_check_channel(k, "news.t*", 7, 1));      /* narrower, but not literal */
    assert_int_equal(set("k", "%R~w:*", err, sizeof err), 0); /* the same pattern widens */
    struct sbuf b;
    sbuf_init(&b);
    acl_describe_keys(acl_user_find("k", 1), &b);
    assert_string_equal(b.p, "~rw:* %R~r:* ~w:*");
    sbuf_free(&b);
}

/* Selectors: arguments joined back into one rule, what they may hold, the descriptions, and
 * checks that look at one permission set at a time. */
static void test_selectors(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(set("s", "on +xrange ~a (+xadd ~b &ch) (allkeys)", err, sizeof err), 0);
    /* (in this test's table xadd is the only @write command) */
    expect_line("s",
                "user s on ~a resetchannels -@all +xrange (~b resetchannels &ch -@all +@write) "
                "(~* resetchannels -@all)");
    const struct acl_user *u = acl_user_find("s", 1);
    assert_int_equal(acl_selector_count(u), 3);
    assert_ptr_equal(acl_selector(u, 0), u);
    assert_true(acl_check_key(acl_selector(u, 1), "b", 1, ACL_KEY_WRITE));
    assert_false(acl_check_key(acl_selector(u, 1), "a", 1, ACL_KEY_WRITE));
    assert_false(acl_check_channel(u, "ch", 2, 0));  /* the user's own set: no channel */
    assert_true(acl_user_channel_ok(u, "ch", 2, 0)); /* but a selector has it */
    assert_false(acl_user_channel_ok(u, "other", 5, 0));
    assert_true(acl_user_may_run("s", 1, "xadd", 0, NULL, NULL)); /* through the selector */
    assert_false(acl_user_may_run("s", 1, "keys", 0, NULL, NULL));
    assert_int_equal(set("s", "(+xrange ~r", err, sizeof err), -1);
    assert_string_equal(err, "Unmatched parenthesis in acl selector starting at '(+xrange'.");
    assert_int_equal(set("s", "(on)", err, sizeof err), -1);
    assert_string_equal(err, "Error in ACL SETUSER modifier '(on)': Syntax error");
    assert_int_equal(set("s", "(~k extra)", err, sizeof err), -1);
    assert_string_equal(err, "Error in ACL SETUSER modifier '(~k extra)': Syntax error");
    assert_int_equal(acl_selector_count(acl_user_find("s", 1)), 3); /* nothing changed */
    assert_int_equal(set("s", "clearselectors", err, sizeof err), 0);
    expect_line("s", "user s on ~a resetchannels -@all +xrange");
    assert_int_equal(set("s", "() reset", err, sizeof err), 0); /* reset clears them too */
    assert_int_equal(acl_selector_count(acl_user_find("s", 1)), 1);
}

static void test_log_groups_and_caps(void **state) {
    (void)state;
    server_config.acllog_max_len = 2;
    acl_log_reset();
    acl_log_add(ACL_LOG_KEY, ACL_LOG_TOPLEVEL, "k", 1, "u", 1, "id=1");
    acl_log_add(ACL_LOG_KEY, ACL_LOG_TOPLEVEL, "k", 1, "u", 1, "id=2");
    assert_int_equal(acl_log_count(), 1);
    assert_int_equal(acl_log_at(0)->count, 2);
    assert_string_equal(acl_log_at(0)->client_info, "id=2");
    acl_log_add(ACL_LOG_COMMAND, ACL_LOG_MULTI, "xadd", 4, "u", 1, "id=3");
    acl_log_add(ACL_LOG_AUTH, ACL_LOG_TOPLEVEL, "AUTH", 4, "v", 1, "id=4");
    assert_int_equal(acl_log_count(), 2);
    assert_string_equal(acl_log_at(0)->object, "AUTH");
    assert_string_equal(acl_log_at(1)->object, "xadd");
    assert_string_equal(acl_log_context_name(acl_log_at(1)->context), "multi");
    acl_log_reset();
    assert_int_equal(acl_log_count(), 0);
    server_config.acllog_max_len = 128;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_like_redis), cmocka_unit_test(test_rules_all_or_nothing),
        cmocka_unit_test(test_passwords),           cmocka_unit_test(test_keys_and_channels),
        cmocka_unit_test(test_log_groups_and_caps), cmocka_unit_test(test_selectors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
