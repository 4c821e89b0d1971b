/* test_acl.c - ACL users beyond what the differential script compares byte for byte: the ACL
 * log, HELLO AUTH, CLIENT LIST user=, blocked reads and ACL DELUSER, the ACL file (SAVE, LOAD, a
 * bad file changes nothing; users in the config and an aclfile together refuse to start), "user"
 * lines (--user on the command line),
 * requirepass as the default user's password, and SLOWLOG redaction of ACL SETUSER. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpname.h"

static redisContext *login(const struct test_server *s, const char *user, const char *pass) {
    redisContext *c = client_connect(s);
    assert_non_null(c);
    redisReply *r = must_cmd(c, "AUTH %s %s", user, pass);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    return c;
}

static void expect_error(redisContext *c, const char *prefix, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, prefix, strlen(prefix)) != 0)
        fail_msg("expected an error starting with '%s', got type %d '%s'", prefix, r->type,
                 r->str ? r->str : "");
    freeReplyObject(r);
}

static void expect_ok(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("unexpected error: %s", r->str);
    freeReplyObject(r);
}

/* The value of field in an ACL LOG entry (a flat array of pairs in RESP2). */
static const redisReply *entry_field(const redisReply *e, const char *field) {
    for (size_t i = 0; i + 1 < e->elements; i += 2)
        if (!strcmp(e->element[i]->str, field)) return e->element[i + 1];
    fail_msg("no field %s", field);
    return NULL;
}

static void test_acl_log(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--acllog-max-len", "3", NULL), 0);
    redisContext *admin = client_connect(&s);
    expect_ok(admin, "ACL SETUSER bob on >pw ~b:* -@all +xadd +xlen +multi +exec");
    redisContext *bob = login(&s, "bob", "pw");
    expect_error(bob, "NOPERM this user has no permissions to run the 'xrange' command",
                 "XRANGE b:1 - +");
    expect_error(bob, "NOPERM this user has no permissions to access one of the keys",
                 "XADD other * f v");
    expect_error(bob, "NOPERM this user has no permissions to access one of the keys",
                 "XADD other * f v");
    redisReply *r = must_cmd(admin, "AUTH bob wrong");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = must_cmd(admin, "ACL LOG");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3); /* the key entry counted twice, as Redis groups them */
    const redisReply *e = r->element[0];
    assert_string_equal(entry_field(e, "reason")->str, "auth");
    assert_string_equal(entry_field(e, "object")->str, "AUTH");
    assert_string_equal(entry_field(e, "username")->str, "bob");
    e = r->element[1];
    assert_string_equal(entry_field(e, "reason")->str, "key");
    assert_string_equal(entry_field(e, "object")->str, "other");
    assert_int_equal(entry_field(e, "count")->integer, 2);
    assert_string_equal(entry_field(e, "context")->str, "toplevel");
    assert_non_null(strstr(entry_field(e, "client-info")->str, "user=bob"));
    assert_non_null(strstr(entry_field(e, "client-info")->str, "cmd=xadd"));
    e = r->element[2];
    assert_string_equal(entry_field(e, "reason")->str, "command");
    assert_string_equal(entry_field(e, "object")->str, "xrange");
    freeReplyObject(r);
    /* a fourth entry pushes the oldest out (acllog-max-len 3) */
    expect_error(bob, "NOPERM", "PUBLISH ch x");
    r = must_cmd(admin, "ACL LOG");
    assert_int_equal(r->elements, 3);
    assert_string_equal(entry_field(r->element[0], "reason")->str, "command");
    assert_string_equal(entry_field(r->element[0], "object")->str, "publish");
    assert_string_equal(entry_field(r->element[2], "reason")->str, "key");
    freeReplyObject(r);
    r = must_cmd(admin, "ACL LOG 1");
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    /* inside MULTI the queued command is checked again at EXEC (context multi) */
    expect_ok(bob, "MULTI");
    expect_ok(bob, "XADD b:1 * f v");
    expect_ok(admin, "ACL SETUSER bob -xadd");
    r = must_cmd(bob, "EXEC");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = must_cmd(admin, "ACL LOG 1");
    assert_string_equal(entry_field(r->element[0], "context")->str, "multi");
    freeReplyObject(r);
    expect_ok(admin, "ACL LOG RESET");
    r = must_cmd(admin, "ACL LOG");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    redisFree(bob);
    redisFree(admin);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_hello_auth_client_list_and_deluser(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *admin = client_connect(&s);
    expect_ok(admin, "ACL SETUSER reader on >pw %%R~orders:* -@all +xread +xreadgroup +xgroup "
                     "+acl|whoami +client|info");
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "HELLO 2 AUTH reader pw");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    r = must_cmd(c, "ACL WHOAMI");
    assert_string_equal(r->str, "reader");
    freeReplyObject(r);
    r = must_cmd(c, "CLIENT INFO");
    assert_non_null(strstr(r->str, " user=reader "));
    freeReplyObject(r);
    /* a read-only pattern: XREAD and XREADGROUP (key specs: read access) pass, XGROUP CREATE
     * (insert) does not */
    expect_error(c, "NOPERM this user has no permissions to access one of the keys",
                 "XGROUP CREATE orders:1 g $ MKSTREAM");
    expect_ok(admin, "XGROUP CREATE orders:1 g $ MKSTREAM");
    expect_error(c, "NOPERM", "XREAD STREAMS secret 0");
    /* a blocked read of an allowed key is served ... */
    redisAppendCommand(c, "XREADGROUP GROUP g c BLOCK 5000 STREAMS orders:1 >");
    sleep_ms(100);
    expect_ok(admin, "XADD orders:1 1-1 f v");
    void *reply = NULL;
    assert_int_equal(redisGetReply(c, &reply), REDIS_OK);
    r = reply;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    /* ... and a blocked client of a deleted user is disconnected */
    redisAppendCommand(c, "XREAD BLOCK 0 STREAMS orders:1 $");
    redisBufferWrite(c, &(int){0});
    sleep_ms(100);
    r = must_cmd(admin, "ACL DELUSER reader");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    reply = NULL;
    assert_int_not_equal(redisGetReply(c, &reply), REDIS_OK);
    redisFree(c);
    /* AUTH of a user that is off fails; the same user on works */
    expect_ok(admin, "ACL SETUSER sleeper off >pw +@all ~*");
    c = client_connect(&s);
    expect_error(c, "WRONGPASS", "AUTH sleeper pw");
    expect_ok(admin, "ACL SETUSER sleeper on");
    expect_ok(c, "AUTH sleeper pw");
    r = must_cmd(admin, "CLIENT LIST");
    assert_non_null(strstr(r->str, "user=sleeper"));
    freeReplyObject(r);
    r = must_cmd(admin, "CLIENT KILL USER sleeper");
    assert_int_equal(r->integer, 1); /* by the user it authenticated as */
    freeReplyObject(r);
    r = must_cmd(admin, "CLIENT KILL USER nosuch");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(c);
    redisFree(admin);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* Every key of a request is checked, the 100th of a DEL as the first. */
static void test_every_key_checked(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *admin = client_connect(&s);
    expect_ok(admin, "ACL SETUSER many on >pw ~a:* +@all");
    redisContext *c = login(&s, "many", "pw");
    const char *argv[101];
    size_t lens[101];
    char names[100][16];
    argv[0] = "DEL";
    lens[0] = 3;
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], i == 99 ? "secret:%d" : "a:%d", i);
        argv[i + 1] = names[i];
        lens[i + 1] = strlen(names[i]);
    }
    redisReply *r = redisCommandArgv(c, 101, argv, lens);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "NOPERM"));
    freeReplyObject(r);
    snprintf(names[99], sizeof names[99], "a:99");
    lens[100] = strlen(names[99]);
    r = redisCommandArgv(c, 101, argv, lens);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(c);
    redisFree(admin);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* The hardened set-up: the default user off and allowed nothing. New connections are the
 * default user until they log in, and AUTH must still work for them (AUTH, HELLO, QUIT and
 * RESET need no rule, as in Redis). */
static void test_default_off_others_log_in(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--user", "default off -@all resetkeys", "--user",
                                  "alice on >pw ~* +@all", NULL),
                     0);
    redisContext *c = client_connect(&s);
    expect_error(c, "NOAUTH", "PING");
    expect_error(c, "WRONGPASS", "AUTH alice wrong");
    redisReply *r = must_cmd(c, "HELLO 2 AUTH alice pw");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    expect_ok(c, "XADD k * f v");
    r = must_cmd(c, "RESET");
    assert_string_equal(r->str, "RESET");
    freeReplyObject(r);
    expect_error(c, "NOAUTH", "PING"); /* RESET logged out to the default user */
    expect_ok(c, "AUTH alice pw");
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path) {
    static char buf[16384];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_aclfile_save_load(void **state) {
    (void)state;
    char dir[TEST_TMP_MAX], path[300];
    test_tmp_template(dir, sizeof dir, "obk-aclfile-");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/users.acl", dir);
    write_text(path,
               "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
               "~orders:* -@all +xadd\n");
    struct test_server s;
    assert_int_equal(server_start(&s, "--aclfile", path, NULL), 0);
    redisContext *admin = client_connect(&s);
    redisContext *alice = login(&s, "alice", "pw"); /* the hash of "pw" */
    expect_ok(alice, "XADD orders:1 * f v");
    expect_ok(admin, "ACL SETUSER bob on >b +@all ~*");
    expect_ok(admin, "ACL SETUSER sel on nopass ~a -@all +xlen (+xadd ~b) (~c +xlen)");
    expect_ok(admin, "ACL SAVE");
    char *text = slurp(path);
    assert_non_null(strstr(text, "user alice on #30c952fab"));
    /* selectors written as ACL LIST shows them, and read back the same by the LOAD below */
    assert_non_null(strstr(
        text, "user sel on nopass ~a resetchannels -@all +xlen (~b resetchannels -@all +xadd) "
              "(~c resetchannels -@all +xlen)\n"));
    assert_non_null(strstr(text, "user bob on #"));
    assert_non_null(strstr(text, "user default on nopass ~* &* +@all"));
    /* a bad file is refused whole: the users stay as they were */
    write_text(path, "user carol on nopass +@all\nuser dave +nosuchcommand\n");
    redisReply *r = must_cmd(admin, "ACL LOAD");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, ":2: Error in ACL SETUSER modifier '+nosuchcommand'"));
    freeReplyObject(r);
    r = must_cmd(admin, "ACL USERS");
    assert_int_equal(r->elements, 4); /* alice bob default sel */
    freeReplyObject(r);
    expect_ok(alice, "XADD orders:1 * f v");
    /* the saved file loads back to the same lines, selectors included */
    write_text(path, text);
    expect_ok(admin, "ACL LOAD");
    r = must_cmd(admin, "ACL LIST");
    int found = 0;
    for (size_t i = 0; i < r->elements; i++)
        found |= strstr(text, r->element[i]->str) != NULL && strstr(r->element[i]->str, "(~b");
    assert_true(found);
    freeReplyObject(r);
    redisFree(alice);
    alice = login(&s, "alice", "pw");
    /* a good file replaces the users; alice's connection goes with her */
    write_text(path, "user carol on nopass +@all ~*\n");
    expect_ok(admin, "ACL LOAD");
    r = must_cmd(admin, "ACL USERS");
    assert_int_equal(r->elements, 2); /* carol default */
    assert_string_equal(r->element[0]->str, "carol");
    freeReplyObject(r);
    r = redisCommand(alice, "XADD orders:1 * f v");
    assert_true(r == NULL || r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    redisFree(alice);
    redisFree(admin);
    assert_int_equal(server_stop(&s), 0);
    /* users in the config together with an aclfile: the server refuses to start, saying why */
    const char *both[] = {"--aclfile", path, "--user", "x on nopass +@all", NULL};
    assert_int_not_equal(server_start_argv(&s, both, 1), 0);
    assert_true(server_log_contains(&s, "users defined in the config file and at the same time"));
    server_cleanup(&s);
    unlink(path);
    rmdir(dir);
}

static void test_user_lines_rewrite_and_requirepass(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--user", "ops on >opspw ~* &* +@all", "--user",
                                  "app on >apppw ~app:* -@all +xadd +xrange", "--requirepass",
                                  "defpw", NULL),
                     0);
    redisContext *c = client_connect(&s);
    expect_error(c, "NOAUTH", "PING");
    expect_ok(c, "AUTH defpw");
    redisReply *r = must_cmd(c, "ACL LIST");
    assert_int_equal(r->elements, 3);
    assert_non_null(strstr(r->element[0]->str, "user app on #"));
    assert_non_null(strstr(r->element[0]->str, "~app:* resetchannels -@all +xadd +xrange"));
    assert_non_null(strstr(r->element[1]->str, "user default on #"));
    assert_non_null(strstr(r->element[2]->str, "user ops on #"));
    freeReplyObject(r);
    redisContext *app = login(&s, "app", "apppw");
    expect_ok(app, "XADD app:1 * f v");
    expect_error(app, "NOPERM", "XADD other:1 * f v");
    /* requirepass at run time changes the default user's password */
    expect_ok(c, "CONFIG SET requirepass newpw");
    redisContext *d = client_connect(&s);
    expect_error(d, "WRONGPASS", "AUTH defpw");
    expect_ok(d, "AUTH newpw");
    expect_ok(c, "CONFIG SET requirepass %s", "");
    redisFree(d);
    d = client_connect(&s);
    expect_ok(d, "PING"); /* the default user is nopass again */
    redisFree(d);
    /* SLOWLOG never shows ACL SETUSER's arguments */
    expect_ok(c, "CONFIG SET slowlog-log-slower-than 0");
    expect_ok(c, "ACL SETUSER secretuser on >secretpass");
    expect_ok(c, "CONFIG SET slowlog-log-slower-than 10000");
    r = must_cmd(c, "SLOWLOG GET 3");
    int seen = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *args = r->element[i]->element[3];
        if (args->elements >= 2 && !strcasecmp(args->element[1]->str, "setuser")) {
            seen = 1;
            for (size_t j = 2; j < args->elements; j++)
                assert_string_equal(args->element[j]->str, "(redacted)");
        }
    }
    assert_true(seen);
    freeReplyObject(r);
    redisFree(app);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acl_log),
        cmocka_unit_test(test_hello_auth_client_list_and_deluser),
        cmocka_unit_test(test_every_key_checked),
        cmocka_unit_test(test_default_off_others_log_in),
        cmocka_unit_test(test_aclfile_save_load),
        cmocka_unit_test(test_user_lines_rewrite_and_requirepass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
