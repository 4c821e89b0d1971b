/* cmd_table.c - the command table: name, handler, arity, flags, key positions and the
 * documentation COMMAND DOCS returns. Arity counts the command name; negative means "at least".
 * Read-only after start-up except for the statistics fields. */
#include "server/command.h"
#include "server/cmds.h"

#define F(x) CMD_##x
#define CONN F(FAST) | F(LOADING) | F(STALE)

static struct command client_subcommands[] = {
    {"id", cmd_client_id, 2, F(NOSCRIPT) | CONN, 0, 0, 0, "connection", "5.0.0",
     "Returns the unique client ID of the connection.", "O(1)"},
    {"setname", cmd_client_setname, 3, F(NOSCRIPT) | CONN, 0, 0, 0, "connection", "2.6.9",
     "Sets the connection name.", "O(1)"},
    {"getname", cmd_client_getname, 2, F(NOSCRIPT) | CONN, 0, 0, 0, "connection", "2.6.9",
     "Returns the name of the connection.", "O(1)"},
    {"setinfo", cmd_client_setinfo, 4, F(NOSCRIPT) | CONN, 0, 0, 0, "connection", "7.2.0",
     "Sets information specific to the client or connection.", "O(1)"},
    {"list", cmd_client_list, -2, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0, 0,
     "connection", "2.4.0", "Lists open connections.", "O(N) where N is the number of clients"},
    {"info", cmd_client_info, 2, F(NOSCRIPT) | CONN, 0, 0, 0, "connection", "6.2.0",
     "Returns information about the connection.", "O(1)"},
    {"kill", cmd_client_kill, -3, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0, 0,
     "connection", "2.4.0", "Terminates open connections.",
     "O(N) where N is the number of client connections"},
    {"help", cmd_client_help, 2, F(LOADING) | F(STALE), 0, 0, 0, "connection", "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)"},
    {0},
};

static struct command config_subcommands[] = {
    {"get", cmd_config_get, -3, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0, 0,
     "server", "2.0.0", "Returns the effective values of configuration parameters.",
     "O(N) when N is the number of configuration parameters provided"},
    {"set", cmd_config_set, -4, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0, 0,
     "server", "2.0.0", "Sets configuration parameters in-flight.",
     "O(N) when N is the number of configuration parameters provided"},
    {"resetstat", cmd_config_resetstat, 2, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0,
     0, "server", "2.0.0", "Resets the server's statistics.", "O(1)"},
    {"help", cmd_config_help, 2, F(LOADING) | F(STALE), 0, 0, 0, "server", "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)"},
    {0},
};

static struct command command_subcommands[] = {
    {"count", cmd_command_count, 2, F(LOADING) | F(STALE), 0, 0, 0, "server", "2.8.13",
     "Returns a count of commands.", "O(1)"},
    {"list", cmd_command_list, -2, F(LOADING) | F(STALE), 0, 0, 0, "server", "7.0.0",
     "Returns a list of command names.", "O(N) where N is the total number of Redis commands"},
    {"info", cmd_command_info, -2, F(LOADING) | F(STALE), 0, 0, 0, "server", "2.8.13",
     "Returns information about one, multiple or all commands.",
     "O(N) where N is the number of commands to look up"},
    {"docs", cmd_command_docs, -2, F(LOADING) | F(STALE), 0, 0, 0, "server", "7.0.0",
     "Returns documentary information about one, multiple or all commands.",
     "O(N) where N is the number of commands to look up"},
    {"help", cmd_command_help, 2, F(LOADING) | F(STALE), 0, 0, 0, "server", "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)"},
    {0},
};

static struct command function_subcommands[] = {
    {"flush", cmd_function_flush, -2, F(WRITE) | F(NOSCRIPT), 0, 0, 0, "scripting", "7.0.0",
     "Deletes all libraries and functions (Obelisk has none).",
     "O(N) where N is the number of functions deleted"},
    {"help", cmd_function_help, 2, F(LOADING) | F(STALE), 0, 0, 0, "scripting", "7.0.0",
     "Returns helpful text about the different subcommands.", "O(1)"},
    {0},
};

struct command server_commands[] = {
    {"ping", cmd_ping, -1, F(FAST) | F(SENTINEL_OK), 0, 0, 0, "connection", "1.0.0",
     "Returns the server's liveliness response.", "O(1)"},
    {"echo", cmd_echo, 2, F(FAST) | F(LOADING) | F(STALE), 0, 0, 0, "connection", "1.0.0",
     "Returns the given string.", "O(1)"},
    {"quit", cmd_quit, -1, F(ALLOW_BUSY) | F(NOSCRIPT) | F(LOADING) | F(STALE) | F(FAST) |
                               F(NO_AUTH) | F(NO_MULTI),
     0, 0, 0, "connection", "1.0.0", "Closes the connection.", "O(1)"},
    {"hello", cmd_hello, -1, F(NOSCRIPT) | F(LOADING) | F(STALE) | F(FAST) | F(NO_AUTH), 0, 0, 0,
     "connection", "6.0.0", "Handshakes with the Redis server.", "O(1)"},
    {"auth", cmd_auth, -2, F(NOSCRIPT) | F(LOADING) | F(STALE) | F(FAST) | F(NO_AUTH), 0, 0, 0,
     "connection", "1.0.0", "Authenticates the connection.",
     "O(N) where N is the number of passwords defined for the user"},
    {"select", cmd_select, 2, F(LOADING) | F(STALE) | F(FAST), 0, 0, 0, "connection", "1.0.0",
     "Changes the selected database.", "O(1)"},
    {"client", NULL, -2, F(SENTINEL_OK), 0, 0, 0, "connection", "2.4.0",
     "A container for client connection commands.", "Depends on subcommand.",
     client_subcommands},
    {"config", NULL, -2, 0, 0, 0, 0, "server", "2.0.0",
     "A container for server configuration commands.", "Depends on subcommand.",
     config_subcommands},
    {"command", cmd_command, -1, F(LOADING) | F(STALE), 0, 0, 0, "server", "2.8.13",
     "Returns detailed information about all commands.",
     "O(N) where N is the total number of Redis commands", command_subcommands},
    {"function", NULL, -2, 0, 0, 0, 0, "scripting", "7.0.0", "A container for function commands.",
     "Depends on subcommand.", function_subcommands},
    {"info", cmd_info, -1, F(LOADING) | F(STALE) | F(SENTINEL_OK), 0, 0, 0, "server", "1.0.0",
     "Returns information and statistics about the server.", "O(1)"},
    {"time", cmd_time, 1, F(LOADING) | F(STALE) | F(FAST), 0, 0, 0, "server", "2.6.0",
     "Returns the server time.", "O(1)"},
    {"dbsize", cmd_dbsize, 1, F(READONLY) | F(FAST), 0, 0, 0, "server", "1.0.0",
     "Returns the number of keys in the database.", "O(1)"},
    {"flushdb", cmd_flushdb, -1, F(WRITE), 0, 0, 0, "server", "1.0.0",
     "Removes all keys from the current database.",
     "O(N) where N is the number of keys in the selected database"},
    {"flushall", cmd_flushall, -1, F(WRITE), 0, 0, 0, "server", "1.0.0",
     "Removes all keys from all databases.", "O(N) where N is the total number of keys"},
    {"multi", cmd_multi, 1, F(NOSCRIPT) | F(LOADING) | F(STALE) | F(FAST) | F(ALLOW_BUSY) | F(NO_MULTI), 0, 0,
     0, "transactions", "1.2.0", "Starts a transaction.", "O(1)"},
    {"exec", cmd_exec, 1, F(NOSCRIPT) | F(LOADING) | F(STALE) | F(NO_MULTI), 0, 0, 0,
     "transactions", "1.2.0", "Executes all commands in a transaction.",
     "Depends on commands in the transaction"},
    {"discard", cmd_discard, 1,
     F(NOSCRIPT) | F(LOADING) | F(STALE) | F(FAST) | F(ALLOW_BUSY) | F(NO_MULTI), 0, 0, 0,
     "transactions", "2.0.0", "Discards a transaction.",
     "O(N), when N is the number of queued commands"},
    {"debug", cmd_debug, -2, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0, 0, "server",
     "1.0.0", "A container for debugging commands (Obelisk: SLEEP only).", "Depends on subcommand."},
    {"shutdown", cmd_shutdown, -1,
     F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE) | F(NO_MULTI) | F(SENTINEL_OK) |
         F(ALLOW_BUSY),
     0, 0, 0, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down.",
     "O(N) when saving, where N is the total number of keys in all databases"},
    /* A browser or proxy talking HTTP to the RESP port: log it and drop the connection. */
    {"post", cmd_security_warning, -1, F(NO_AUTH) | F(LOADING) | F(STALE), 0, 0, 0, "server",
     "1.0.0", "Cross-protocol guard (not a real command).", "O(1)"},
    {"host:", cmd_security_warning, -1, F(NO_AUTH) | F(LOADING) | F(STALE), 0, 0, 0, "server",
     "1.0.0", "Cross-protocol guard (not a real command).", "O(1)"},
    {0},
};
