/* cmd_xdelex.c - XDELEX and XACKDEL (Redis 8.2): delete stream entries, or acknowledge them in
 * one group and delete them, under a policy for the consumer groups' references (KEEPREF keeps
 * them, DELREF removes them from every PEL, ACKED deletes only entries no group still needs),
 * answering one code per ID: -1 not found, 1 deleted, 2 kept because still referenced.
 *
 * Arguments are parsed whole before anything changes; the group changes of one command are one
 * group record (cg_record_begin/end), and the reply waits for durability through command.c like
 * any write. Main thread only. */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/xutil.h"
#include "storage/cgroup.h"
#include "storage/store.h"

#define R (&c->reply)

/* [KEEPREF | DELREF | ACKED] IDS numids id ... */
struct xdelex_args {
    enum xutil_refpolicy policy;
    size_t n;
    sid_t *ids;
};

/* Parses IDS numids: the count must be positive and not more than what follows. Returns the
 * index after the IDs, or -1 after replying. */
static int parse_ids_block(struct client *c, int i, int argc, char **argv, size_t *argvlen,
                           struct xdelex_args *a) {
    long long n;
    if (!util_parse_ll(argv[i + 1], argvlen[i + 1], &n) || n < 1) {
        reply_error(R, ERR_IDS_NOT_POSITIVE);
        return -1;
    }
    int first = i + 2;
    if (n > argc - first) {
        reply_error(R, ERR_IDS_COUNT_MISMATCH);
        return -1;
    }
    free(a->ids); /* a second IDS block replaces the first */
    if (!(a->ids = malloc((size_t)n * sizeof(*a->ids)))) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return -1;
    }
    a->n = (size_t)n;
    for (size_t j = 0; j < a->n; j++)
        if (xutil_parse_id(c, argv[first + j], argvlen[first + j], 0, SID_PARSE_STRICT, &a->ids[j],
                           NULL, NULL) != 0)
            return -1;
    return first + (int)n;
}

/* Parses from argv[from]. Returns 0, or -1 after replying (a->ids is freed by the caller). */
static int parse_xdelex_args(struct client *c, int from, int argc, char **argv, size_t *argvlen,
                             struct xdelex_args *a) {
    int policy_given = 0;
    memset(a, 0, sizeof(*a));
    for (int i = from; i < argc;) {
        enum xutil_refpolicy p;
        if (!policy_given && xutil_parse_refpolicy(argv[i], argvlen[i], &p)) {
            a->policy = p;
            policy_given = 1;
            i++;
        } else if (util_eq_nocase(argv[i], argvlen[i], "IDS") && i + 1 < argc) {
            if ((i = parse_ids_block(c, i, argc, argv, argvlen, a)) < 0) return -1;
        } else {
            reply_error(R, ERR_SYNTAX);
            return -1;
        }
    }
    if (!a->ids) { /* IDS is mandatory */
        reply_error(R, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

static void reply_codes(struct client *c, const int *codes, size_t n) {
    reply_array(R, (long)n);
    for (size_t i = 0; i < n; i++) reply_int(R, codes[i]);
}

/* Deletes each ID under the policy; codes[i] gets its result. */
static int delete_each(struct topic *t, const struct xdelex_args *a, int *codes) {
    for (size_t i = 0; i < a->n; i++) {
        int rc = xutil_delete_with_policy(t, a->ids[i], a->policy, &codes[i]);
        if (rc != OBK_OK) return rc;
    }
    return OBK_OK;
}

/* Acknowledges each ID pending in g, then deletes it under the policy: -1 when it was not
 * pending in g, 2 when ACKED finds another group still needing it, else 1 (also when the entry
 * itself was already gone: the acknowledgement is what counts). */
static int ack_delete_each(struct topic *t, struct cg_group *g, const struct xdelex_args *a,
                           int *codes) {
    for (size_t i = 0; i < a->n; i++) {
        uint64_t acked = 0, deleted;
        sid_t id = a->ids[i];
        int rc = cg_ack(t, g, &id, 1, &acked);
        codes[i] = XDEL_NOT_FOUND;
        if (rc != OBK_OK) return rc;
        if (!acked) continue;
        codes[i] = XDEL_REFERENCED;
        if (a->policy == XREF_ACKED && xutil_entry_referenced(t, id)) continue;
        if ((rc = topic_delete_ids(t, &id, 1, &deleted)) != OBK_OK) return rc;
        if (a->policy == XREF_DELREF && (rc = xutil_drop_refs(t, id)) != OBK_OK) return rc;
        codes[i] = XDEL_DELETED;
    }
    return OBK_OK;
}

/* Runs XDELEX (g NULL) or XACKDEL (g set) on t inside one group record. */
static int run_deletes(struct topic *t, struct cg_group *g, const struct xdelex_args *a,
                       int *codes) {
    cg_record_begin(t);
    int rc = g ? ack_delete_each(t, g, a, codes) : delete_each(t, a, codes);
    int rc2 = cg_record_end(t);
    return rc != OBK_OK ? rc : rc2;
}

/* XDELEX key [policy] IDS ... (gi 0) and XACKDEL key group [policy] IDS ... (gi 2). */
static void xdelex_generic(struct client *c, int argc, char **argv, size_t *argvlen, int gi) {
    struct xdelex_args a;
    int *codes = NULL;
    if (parse_xdelex_args(c, gi ? 3 : 2, argc, argv, argvlen, &a) != 0) goto out;
    if (!(codes = malloc(a.n * sizeof(*codes)))) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        goto out;
    }
    for (size_t i = 0; i < a.n; i++) codes[i] = XDEL_NOT_FOUND;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = t && gi ? cg_group_find(t, argv[gi], argvlen[gi]) : NULL;
    if (t && (!gi || g)) { /* a missing key or group: every ID is "not found" */
        int rc = run_deletes(t, g, &a, codes);
        if (rc != OBK_OK) {
            xutil_reply_status(c, rc);
            goto out;
        }
    }
    reply_codes(c, codes, a.n);
out:
    free(a.ids);
    free(codes);
}

void cmd_xdelex(CMD_ARGS) {
    xdelex_generic(c, argc, argv, argvlen, 0);
}

void cmd_xackdel(CMD_ARGS) {
    xdelex_generic(c, argc, argv, argvlen, 2);
}
