/* sid.c - stream IDs: parse, format, order, increment, assign from the clock.
 *
 * Parsing follows Redis 7's rules as observed: "-" / "+" shortcuts (refused in strict mode), an
 * optional '(' for exclusive bounds, "<ms>-*" for XADD, a missing sequence replaced by the
 * caller's default, numbers read first as strict decimals and then as strtoull would read them
 * (so "007" is 7), negatives refused, input longer than 127 bytes refused. Stateless. */
#include "storage/sid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"

/* Redis's string2ull: strict first, then strtoull's lenient parse of the NUL-terminated text. */
static int sid_parse_u64(const char *s, uint64_t *out) {
    long long ll;
    if (util_parse_ll(s, strlen(s), &ll)) {
        if (ll < 0) return 0;
        *out = (uint64_t)ll;
        return 1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || *s == '\0' || *end != '\0') return 0;
    *out = v;
    return 1;
}

int sid_parse(const char *s, size_t len, uint64_t missing_seq, int flags, sid_t *out,
              int *exclusive, int *seq_auto) {
    char buf[SID_PARSE_MAX + 1];
    if (exclusive) *exclusive = 0;
    if (seq_auto) *seq_auto = 0;
    if ((flags & SID_PARSE_EXCLUSIVE) && len > 1 && s[0] == '(') {
        *exclusive = 1;
        s++;
        len--;
        flags |= SID_PARSE_STRICT;
    }
    if (len > SID_PARSE_MAX) return OBK_ERR_INVAL;
    if (len) memcpy(buf, s, len);
    buf[len] = '\0';
    if (len == 1 && (buf[0] == '-' || buf[0] == '+')) {
        if (flags & SID_PARSE_STRICT) return OBK_ERR_INVAL;
        *out = buf[0] == '-' ? SID_MIN : SID_MAX;
        return OBK_OK;
    }
    char *dot = strchr(buf, '-');
    sid_t id;
    if (dot) {
        *dot = '\0';
        if (!sid_parse_u64(buf, &id.ms)) return OBK_ERR_INVAL;
        if ((flags & SID_PARSE_SEQ_AUTO) && strcmp(dot + 1, "*") == 0) {
            *seq_auto = 1;
            id.seq = 0;
        } else if (!sid_parse_u64(dot + 1, &id.seq)) {
            return OBK_ERR_INVAL;
        }
    } else {
        if (!sid_parse_u64(buf, &id.ms)) return OBK_ERR_INVAL;
        id.seq = missing_seq;
    }
    *out = id;
    return OBK_OK;
}

int sid_format(sid_t id, char *buf) {
    int n = util_ull2str(buf, id.ms);
    buf[n++] = '-';
    n += util_ull2str(buf + n, id.seq);
    buf[n] = '\0';
    return n;
}

int sid_incr(sid_t *id) {
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) return OBK_ERR_RANGE;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return OBK_OK;
}

int sid_decr(sid_t *id) {
    if (id->seq == 0) {
        if (id->ms == 0) return OBK_ERR_RANGE;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return OBK_OK;
}

int sid_next_auto(sid_t last, uint64_t now_ms, sid_t *out) {
    if (now_ms > last.ms) {
        *out = (sid_t){now_ms, 0};
        return OBK_OK;
    }
    sid_t id = last;
    int rc = sid_incr(&id);
    if (rc == OBK_OK) *out = id;
    return rc;
}

int sid_next_ms(sid_t last, uint64_t ms, sid_t *out) {
    if (ms == last.ms) {
        if (last.seq == UINT64_MAX) return OBK_ERR_RANGE;
        *out = (sid_t){ms, last.seq + 1};
        return OBK_OK;
    }
    if (ms < last.ms) return OBK_ERR_RANGE;
    *out = (sid_t){ms, 0};
    return OBK_OK;
}

int sid_check_explicit(sid_t last, sid_t id) {
    return sid_cmp(id, last) > 0 ? OBK_OK : OBK_ERR_RANGE;
}
