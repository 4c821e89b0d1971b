/* cmds.h - handlers of the commands in the table of cmd_table.c, grouped by module. */
#ifndef OBK_CMDS_H
#define OBK_CMDS_H

#include <stddef.h>

#include "server/command.h"

struct client;

#define CMD_ARGS struct client *c, int argc, char **argv, size_t *argvlen

/* The tables server.c hands to command_table_init: cmd_table.c's and cmd_retention.c's. */
extern struct command server_commands[];
extern struct command retention_commands[];
extern struct command pubsub_commands[]; /* pubsub.c */
extern struct command repl_commands[];   /* cmd_repl.c */
extern struct command expire_commands[]; /* cmd_expire.c */
extern struct command xnack_commands[];  /* cmd_xnack.c */
extern struct command idmp_commands[];   /* cmd_idmp.c */
extern struct command backup_commands[]; /* backup.c */
extern struct command acl_commands[];    /* cmd_acl.c */
/* cmd_acl.c: closes the clients of users that ACL DELUSER or ACL LOAD remove. */
void acl_commands_init(void);
void cmd_xcfgset(CMD_ARGS);

/* cmd_server.c: connection and server commands */
void cmd_ping(CMD_ARGS);
void cmd_echo(CMD_ARGS);
void cmd_quit(CMD_ARGS);
void cmd_hello(CMD_ARGS);
void cmd_auth(CMD_ARGS);
void cmd_select(CMD_ARGS);
void cmd_time(CMD_ARGS);
void cmd_dbsize(CMD_ARGS);
void cmd_flushdb(CMD_ARGS);
void cmd_flushall(CMD_ARGS);
void cmd_multi(CMD_ARGS);
void cmd_exec(CMD_ARGS);
void cmd_discard(CMD_ARGS);
void cmd_function_flush(CMD_ARGS);
void cmd_function_help(CMD_ARGS);
void cmd_debug(CMD_ARGS);
void cmd_shutdown(CMD_ARGS);
void cmd_security_warning(CMD_ARGS);
void cmd_config_get(CMD_ARGS);
void cmd_config_set(CMD_ARGS);
void cmd_config_resetstat(CMD_ARGS);
void cmd_config_rewrite(CMD_ARGS);
void cmd_config_help(CMD_ARGS);

/* cmd_client.c */
/* The "id=.. addr=.. ..." line of CLIENT LIST / CLIENT INFO (and ACL LOG's client-info). */
void client_describe(const struct client *c, char *buf, size_t cap);
void cmd_client_id(CMD_ARGS);
void cmd_client_setname(CMD_ARGS);
void cmd_client_getname(CMD_ARGS);
void cmd_client_setinfo(CMD_ARGS);
void cmd_client_list(CMD_ARGS);
void cmd_client_info(CMD_ARGS);
void cmd_client_kill(CMD_ARGS);
void cmd_client_help(CMD_ARGS);
void cmd_client_no_evict(CMD_ARGS);
void cmd_client_no_touch(CMD_ARGS);
void cmd_client_pause(CMD_ARGS);
void cmd_client_unpause(CMD_ARGS);
void cmd_reset(CMD_ARGS);

/* cmd_diag.c */
void cmd_monitor(CMD_ARGS);
void cmd_slowlog_get(CMD_ARGS);
void cmd_slowlog_len(CMD_ARGS);
void cmd_slowlog_reset(CMD_ARGS);
void cmd_slowlog_help(CMD_ARGS);
void cmd_latency_latest(CMD_ARGS);
void cmd_latency_history(CMD_ARGS);
void cmd_latency_reset(CMD_ARGS);
void cmd_latency_help(CMD_ARGS);

/* cmd_memory.c */
void cmd_memory_usage(CMD_ARGS);
void cmd_memory_stats(CMD_ARGS);
void cmd_memory_doctor(CMD_ARGS);
void cmd_memory_help(CMD_ARGS);
void cmd_object_encoding(CMD_ARGS);
void cmd_object_freq(CMD_ARGS);
void cmd_object_idletime(CMD_ARGS);
void cmd_object_refcount(CMD_ARGS);
void cmd_object_help(CMD_ARGS);

/* cmd_info.c */
void cmd_info(CMD_ARGS);

/* cmd_command.c */
void cmd_command(CMD_ARGS);
void cmd_command_count(CMD_ARGS);
void cmd_command_list(CMD_ARGS);
void cmd_command_info(CMD_ARGS);
void cmd_command_docs(CMD_ARGS);
void cmd_command_help(CMD_ARGS);

/* cmd_stream.c */
void cmd_xadd(CMD_ARGS);
void cmd_xrange(CMD_ARGS);
void cmd_xrevrange(CMD_ARGS);
void cmd_xlen(CMD_ARGS);
void cmd_xdel(CMD_ARGS);
void cmd_xtrim(CMD_ARGS);
void cmd_xsetid(CMD_ARGS);

/* cmd_xread.c */
void cmd_xread(CMD_ARGS);

/* cmd_xinfo.c */
void cmd_xinfo_stream(CMD_ARGS);
void cmd_xinfo_help(CMD_ARGS);

/* cmd_group.c */
void cmd_xgroup_create(CMD_ARGS);
void cmd_xgroup_setid(CMD_ARGS);
void cmd_xgroup_setdlq(CMD_ARGS);
void cmd_xgroup_destroy(CMD_ARGS);
void cmd_xgroup_createconsumer(CMD_ARGS);
void cmd_xgroup_delconsumer(CMD_ARGS);
void cmd_xgroup_help(CMD_ARGS);
void cmd_xack(CMD_ARGS);
void cmd_xpending(CMD_ARGS);
void cmd_xclaim(CMD_ARGS);
void cmd_xautoclaim(CMD_ARGS);

/* cmd_xdelex.c */
void cmd_xdelex(CMD_ARGS);
void cmd_xackdel(CMD_ARGS);

/* cmd_xreadgroup.c */
void cmd_xreadgroup(CMD_ARGS);

/* cmd_xinfo.c (groups) */
void cmd_xinfo_groups(CMD_ARGS);
void cmd_xinfo_consumers(CMD_ARGS);

/* cmd_offset.c */
void cmd_xcommit(CMD_ARGS);
void cmd_xcommitted(CMD_ARGS);
void cmd_xlag(CMD_ARGS);

/* cmd_keys.c */
void cmd_del(CMD_ARGS);
void cmd_exists(CMD_ARGS);
void cmd_type(CMD_ARGS);
void cmd_keys(CMD_ARGS);
void cmd_scan(CMD_ARGS);
void cmd_rename(CMD_ARGS);

/* Writes a HELP reply: a title line then the given lines, as simple strings. */
void reply_help(struct client *c, const char *title, const char *const *lines);

#endif
