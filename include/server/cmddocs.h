/* cmddocs.h - COMMAND DOCS "arguments" from a compact syntax string per command, so redis-cli's
 * hints and `help <command>` show each command's arguments.
 *
 * Syntax (space-separated arguments):
 *   name:type            an argument (type: string, integer, double, key, pattern, unix-time)
 *   TOKEN!               a pure token (its name is the token in lower case)
 *   TOKEN=name:type      a token followed by a value
 *   [name: a b ...]      a block; TOKEN=[name: ...] a block introduced by a token
 *   (name: a | b ...)    one of the alternatives
 *   a suffix ? makes an argument optional, ... makes it repeat (both may follow: ?... ). */
#ifndef OBK_CMDDOCS_H
#define OBK_CMDDOCS_H

struct reply;

/* Number of top-level arguments the spec describes (0 for NULL or ""). */
int cmddocs_count(const char *spec);
/* Writes the "arguments" array of the spec. Returns 0, or -1 for a malformed spec (a bug in
 * the command table, caught by the unit test). */
int cmddocs_reply_args(struct reply *r, const char *spec);

#endif
