/* cmd_xnack.c - XNACK key group SILENT|FAIL|FATAL IDS numids id ... [RETRYCOUNT n] [FORCE]
 * (Redis 8.8): a consumer gives pending entries back without acknowledging them.
 *
 * Each ID pending in the group loses its owner and joins the end of the group's released
 * entries (cg_nack), which XREADGROUP's CLAIM takes before any other idle entry; XCLAIM and
 * XAUTOCLAIM take them whatever their min-idle-time; XPENDING shows them with the consumer ""
 * and idle -1. The delivery count: SILENT takes back the last delivery (one less, not below
 * 0), FAIL keeps it, FATAL sets it to the largest value (a dead-letter policy then takes the
 * entry at its next delivery), RETRYCOUNT sets it. FORCE also releases IDs the stream holds
 * that are not pending. The reply counts the IDs released (an ID given twice counts twice).
 * Checks in Redis's order: the group, the mode, the options, then every ID before anything
 * changes. Main thread only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/xutil.h"
#include "storage/cgroup.h"
#include "storage/store.h"

#define R (&c->reply)

enum nack_mode { NACK_SILENT, NACK_FAIL, NACK_FATAL };

struct nack_args {
    enum nack_mode mode;
    long long retrycount; /* -1: by the mode */
    int force;
    int ids_arg, nids; /* argv index of the first ID, and how many */
};

/* Parses from the mode on; replies the error and returns -1 when invalid. */
static int parse_nack(struct client *c, int argc, char **argv, size_t *argvlen,
                      struct nack_args *a) {
    static const char *const modes[] = {"SILENT", "FAIL", "FATAL"};
    int m = -1;
    for (int k = 0; k < 3 && m < 0; k++)
        if (util_eq_nocase(argv[3], argvlen[3], modes[k])) m = k;
    if (m < 0) {
        reply_error(R, ERR_XNACK_MODE);
        return -1;
    }
    memset(a, 0, sizeof *a);
    a->mode = (enum nack_mode)m;
    a->retrycount = -1;
    for (int i = 4; i < argc; i++) {
        int more = argc - i - 1;
        if (util_eq_nocase(argv[i], argvlen[i], "IDS") && more && !a->ids_arg) {
            long long n;
            if (!util_parse_ll(argv[i + 1], argvlen[i + 1], &n) || n < 1 || n > INT32_MAX) {
                reply_error(R, ERR_XNACK_NUMIDS);
                return -1;
            }
            if (n > more - 1) {
                reply_error(R, ERR_XNACK_NUMIDS_MISMATCH);
                return -1;
            }
            a->ids_arg = i + 2;
            a->nids = (int)n;
            i += 1 + (int)n;
        } else if (util_eq_nocase(argv[i], argvlen[i], "RETRYCOUNT") && more) {
            if (xutil_parse_ll(c, argv[i + 1], argvlen[i + 1], &a->retrycount) != 0) return -1;
            if (a->retrycount < 0) {
                reply_error(R, ERR_XNACK_RETRYCOUNT);
                return -1;
            }
            i++;
        } else if (util_eq_nocase(argv[i], argvlen[i], "FORCE")) {
            a->force = 1;
        } else {
            reply_errorf(R, ERR_XNACK_OPTION, argv[i]);
            return -1;
        }
    }
    if (!a->ids_arg) {
        reply_error(R, ERR_XNACK_NO_IDS);
        return -1;
    }
    return 0;
}

/* The delivery count an entry gets, from what it had. */
static uint64_t nacked_count(const struct nack_args *a, uint64_t had) {
    if (a->retrycount >= 0) return (uint64_t)a->retrycount;
    switch (a->mode) {
    case NACK_SILENT: return had > 0 ? had - 1 : 0;
    case NACK_FATAL: return (uint64_t)INT64_MAX;
    default: return had;
    }
}

void cmd_xnack(CMD_ARGS) {
    struct nack_args a;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = t ? cg_group_find(t, argv[2], argvlen[2]) : NULL;
    if (!g) {
        reply_errorf(R, ERR_XNACK_NOGROUP, argv[1], argv[2]);
        return;
    }
    if (parse_nack(c, argc, argv, argvlen, &a) != 0) return;
    sid_t *ids = malloc((size_t)a.nids * sizeof(*ids));
    if (!ids) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    for (int i = 0; i < a.nids; i++)
        if (xutil_parse_id(c, argv[a.ids_arg + i], argvlen[a.ids_arg + i], 0, SID_PARSE_STRICT,
                           &ids[i], NULL, NULL) != 0)
            goto out;
    long long released = 0;
    int rc = OBK_OK;
    cg_record_begin(t);
    for (int i = 0; i < a.nids && rc == OBK_OK; i++) {
        const struct cg_pending *p = cg_pending_get(g, ids[i]);
        if (!p && !(a.force && topic_contains(t, ids[i]) == OBK_OK)) continue;
        rc = cg_nack(t, g, ids[i], nacked_count(&a, p ? p->delivery_count : 0));
        if (rc == OBK_OK) released++;
    }
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        goto out;
    }
    if (released) blocking_signal_key(c->db, argv[1], argvlen[1]); /* CLAIM readers */
    reply_int(R, released);
out:
    free(ids);
}

#define F(x) CMD_##x

/* Merged into the command table by command_table_init (command.c). */
struct command xnack_commands[] = {
    {"xnack", cmd_xnack, -7, F(WRITE) | F(FAST), 1, 1, 1, "stream", "8.8.0",
     "Gives pending entries back to the group without acknowledging them.", "O(N) for N IDs",
     .args = "key:key group:string (mode: SILENT! | FAIL! | FATAL!) IDS=[ids: numids:integer "
             "id:string...] RETRYCOUNT=count:integer? FORCE!?"},
    {NULL},
};
