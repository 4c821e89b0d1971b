/* acl.h - who a client is and what it may do: Redis 7.0's ACL users (passwords as SHA-256,
 * on/off, command rules by command, subcommand, first argument and category, key patterns with
 * read/write permissions, channel patterns), their description (ACL LIST / GETUSER), the
 * checks the dispatch level makes, and the ACL file (the ACL log is acl_log.h). Main thread
 * only. */
#ifndef OBK_ACL_H
#define OBK_ACL_H

#include <stddef.h>
#include <stdint.h>

struct sbuf;

/* Categories, in Redis's order (ACL CAT lists them so, and descriptions try them so). */
enum acl_category {
    ACL_CAT_KEYSPACE,
    ACL_CAT_READ,
    ACL_CAT_WRITE,
    ACL_CAT_SET,
    ACL_CAT_SORTEDSET,
    ACL_CAT_LIST,
    ACL_CAT_HASH,
    ACL_CAT_STRING,
    ACL_CAT_BITMAP,
    ACL_CAT_HYPERLOGLOG,
    ACL_CAT_GEO,
    ACL_CAT_STREAM,
    ACL_CAT_PUBSUB,
    ACL_CAT_ADMIN,
    ACL_CAT_FAST,
    ACL_CAT_SLOW,
    ACL_CAT_BLOCKING,
    ACL_CAT_DANGEROUS,
    ACL_CAT_CONNECTION,
    ACL_CAT_TRANSACTION,
    ACL_CAT_SCRIPTING,
    ACL_NCATS
};
const char *acl_category_name(int cat);
/* The category named name (without '@'), or -1. */
int acl_category_lookup(const char *name, size_t len);

/* ---- the commands the rules speak of (registered once, before any user exists) ---- */
/* Registers a command ("xadd") or subcommand ("config|get", parent_id its container's id) with
 * its category bits (1u << enum acl_category). Returns its id, or -1 when out of memory. */
int acl_register_command(const char *fullname, uint32_t cats, int parent_id);
/* Creates the default user (requirepass), then the users of the config's "user" lines or of
 * the aclfile. Returns 0, or -1 with the reason. */
int acl_init(char *err, size_t errlen);
void acl_free(void);
/* Fills ids[] with the commands of a category (all when cat < 0); returns how many. */
int acl_category_commands(int cat, int *ids, int cap);
const char *acl_command_name(int id);

/* ---- users ---- */
struct acl_user;
struct acl_user *acl_default_user(void);
struct acl_user *acl_user_find(const char *name, size_t len);
const char *acl_user_name(const struct acl_user *u);
/* The users sorted by name. */
int acl_user_count(void);
struct acl_user *acl_user_at(int i);

/* The user that user/pass authenticate (an enabled user whose password matches; a nopass user
 * takes any password), or NULL. Names are exact, as in Redis. */
struct acl_user *acl_authenticate(const char *user, size_t ulen, const char *pass, size_t plen);
/* 1 when user/pass authenticate someone (the HTTP face's check). */
int acl_check_credentials(const char *user, size_t ulen, const char *pass, size_t plen);
/* 1 when a new connection must authenticate first: the default user has no "nopass" or is off. */
int acl_default_needs_auth(void);
/* 1 when any password or any user besides an open default user exists: the HTTP face then asks
 * every request who it is. */
int acl_auth_configured(void);
/* requirepass: the default user's password (resetpass, then >pass, or nopass when empty). */
void acl_set_requirepass(const char *pass);

/* ACL SETUSER: creates the user if needed and applies the rules in order, all or nothing.
 * Returns 0, or -1 with Redis's message ("Error in ACL SETUSER modifier '...': ..."). */
int acl_setuser(const char *name, size_t len, int nrules, char **rules, size_t *rulelens, char *err,
                size_t errlen);
/* Deletes a user: 1 done, 0 no such user, -1 it is "default". The hook runs first. */
int acl_deluser(const char *name, size_t len);
/* Called for a user about to be freed (ACL DELUSER, ACL LOAD): its clients must go. */
void acl_set_user_gone_hook(void (*fn)(struct acl_user *u));

/* "user <name> on ... +@all" as ACL LIST and the ACL file write it (no newline). */
void acl_describe_user(const struct acl_user *u, struct sbuf *out);
/* ACL GETUSER's parts. flags: up to 4 words. */
int acl_user_flags(const struct acl_user *u, const char **flags);
int acl_user_password_count(const struct acl_user *u);
void acl_user_password_hex(const struct acl_user *u, int i, char out[65]);
/* The user's permission sets: 0 is the user's own, 1 .. count-1 its selectors ("(+set ~k)"),
 * each a struct acl_user holding only commands, keys and channels, for the checks and
 * descriptions below. A request is allowed when one set allows all of it. */
int acl_selector_count(const struct acl_user *u);
const struct acl_user *acl_selector(const struct acl_user *u, int i);
void acl_describe_commands(const struct acl_user *u, struct sbuf *out);
void acl_describe_keys(const struct acl_user *u, struct sbuf *out);
void acl_describe_channels(const struct acl_user *u, struct sbuf *out);

/* ---- checks ---- */
#define ACL_KEY_READ  1u
#define ACL_KEY_WRITE 2u
/* 1 when u may run command id (a subcommand's own id) with these arguments (first-argument
 * rules such as +select|0 look at argv[1]). */
int acl_check_command(const struct acl_user *u, int id, int argc, char **argv, size_t *argvlen);
/* The checks below look at one permission set (acl_selector), except acl_user_may_run and
 * acl_user_channel_ok, which ask whether any of the user's sets allows it. */
/* 1 when the user named name (the default user when name is NULL) may run the command called
 * command (a full name such as "info" or "config|get") with argv[0..argc) as its arguments
 * (argv[0] the command; argc 0 when they do not matter); 0 for an unknown user or command. */
int acl_user_may_run(const char *name, size_t len, const char *command, int argc, char **argv,
                     size_t *argvlen);
/* 1 when u may touch every key / use every channel (the checks of single ones can be skipped). */
int acl_user_all_keys(const struct acl_user *u);
int acl_user_all_channels(const struct acl_user *u);
/* 1 when u may touch key with the permissions perm (ACL_KEY_* bits; 0 = any matching pattern). */
int acl_check_key(const struct acl_user *u, const char *key, size_t len, unsigned perm);
/* 1 when u may use channel (a PSUBSCRIBE pattern must be allowed literally, as in Redis). */
int acl_check_channel(const struct acl_user *u, const char *ch, size_t len, int is_pattern);
/* 1 when one of the user's sets allows the channel (subscriptions kept across ACL changes). */
int acl_user_channel_ok(const struct acl_user *u, const char *ch, size_t len, int is_pattern);

/* ---- the ACL file ---- */
/* Replaces every user by the file's (all or nothing). Returns 0, or -1 with the reason. */
int acl_load_file(const char *path, char *err, size_t errlen);
/* Writes every user to path (a temporary file renamed over it). Returns 0 or -1. */
int acl_save_file(const char *path, char *err, size_t errlen);
/* The "user" lines CONFIG REWRITE writes when there is no aclfile: calls fn per user. */
void acl_foreach_user_line(void (*fn)(void *ctx, const char *line), void *ctx);

#endif
