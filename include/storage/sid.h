/* sid.h - stream IDs (<ms>-<seq>, two unsigned 64-bit numbers) with Redis's parsing rules. */
#ifndef OBK_SID_H
#define OBK_SID_H

#include <stddef.h>
#include <stdint.h>

typedef struct sid {
    uint64_t ms;
    uint64_t seq;
} sid_t;

#define SID_MIN ((sid_t){0, 0})
#define SID_MAX ((sid_t){UINT64_MAX, UINT64_MAX})
/* Longest text form: 20 digits, '-', 20 digits, NUL. */
#define SID_STRLEN 42
/* Redis parses IDs from a 128-byte buffer and rejects anything longer than 127 bytes. */
#define SID_PARSE_MAX 127

/* Parse flags. */
enum {
    SID_PARSE_STRICT = 1 << 0,    /* "-" and "+" are invalid (explicit IDs, exclusive bounds) */
    SID_PARSE_EXCLUSIVE = 1 << 1, /* accept a leading '(' (sets *exclusive) */
    SID_PARSE_SEQ_AUTO = 1 << 2,  /* accept "<ms>-*" (sets *seq_auto) */
};

/* Parses "ms-seq", "ms" (seq = missing_seq), "-" (0-0), "+" (max-max), with the flags above.
 * Numbers follow Redis (strict decimal, else strtoull's lenient form, never negative).
 * exclusive and seq_auto may be NULL when the matching flag is not given.
 * Returns OBK_OK or OBK_ERR_INVAL. */
int sid_parse(const char *s, size_t len, uint64_t missing_seq, int flags, sid_t *out,
              int *exclusive, int *seq_auto);

/* Writes "ms-seq" and a NUL into buf (SID_STRLEN bytes); returns the length without the NUL. */
int sid_format(sid_t id, char *buf);

/* -1, 0, 1 like memcmp. */
static inline int sid_cmp(sid_t a, sid_t b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}
static inline int sid_is_zero(sid_t a) {
    return a.ms == 0 && a.seq == 0;
}

/* The next/previous ID in order (seq carries into ms). OBK_ERR_RANGE at max-max / 0-0. */
int sid_incr(sid_t *id);
int sid_decr(sid_t *id);

/* The ID XADD '*' assigns: now_ms-0 when the clock is ahead of last.ms, otherwise last + 1
 * (the clock going back keeps last.ms). OBK_ERR_RANGE when last is max-max. */
int sid_next_auto(sid_t last, uint64_t now_ms, sid_t *out);
/* The ID XADD "ms-*" assigns: last.seq + 1 when ms == last.ms, ms-0 when ms is larger.
 * OBK_ERR_RANGE when the result would not be greater than last. */
int sid_next_ms(sid_t last, uint64_t ms, sid_t *out);
/* An explicit ID must be greater than last: OBK_OK or OBK_ERR_RANGE. */
int sid_check_explicit(sid_t last, sid_t id);

#endif
