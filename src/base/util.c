/* util.c - small stateless helpers: strict number parsing (Redis's rules, so error replies
 * match), clocks, glob matching and argument splitting for inline requests and config lines.
 * Any thread may call these. */
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int util_parse_ull(const char *s, size_t len, unsigned long long *out) {
    unsigned long long v = 0;
    if (len == 0 || len > 20) return 0;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] < '1' || s[0] > '9') return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int util_parse_ll(const char *s, size_t len, long long *out) {
    unsigned long long v;
    int neg = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        s++;
        len--;
        if (len == 1 && s[0] == '0') return 0; /* "-0" is not canonical */
    }
    if (!util_parse_ull(s, len, &v)) return 0;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        *out = (long long)v;
    }
    return 1;
}

int util_parse_double(const char *s, size_t len, double *out) {
    char buf[128];
    char *end;
    if (len == 0 || len >= sizeof(buf) || isspace((unsigned char)s[0])) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len || errno == ERANGE || isnan(v)) return 0;
    *out = v;
    return 1;
}

int util_parse_memory(const char *s, long long *out) {
    const char *u = s;
    long long mul = 1, v;
    if (*u == '-') u++;
    while (*u && isdigit((unsigned char)*u)) u++;
    if (!strcasecmp(u, ""))
        mul = 1;
    else if (!strcasecmp(u, "b"))
        mul = 1;
    else if (!strcasecmp(u, "k"))
        mul = 1000;
    else if (!strcasecmp(u, "kb"))
        mul = 1024;
    else if (!strcasecmp(u, "m"))
        mul = 1000LL * 1000;
    else if (!strcasecmp(u, "mb"))
        mul = 1024LL * 1024;
    else if (!strcasecmp(u, "g"))
        mul = 1000LL * 1000 * 1000;
    else if (!strcasecmp(u, "gb"))
        mul = 1024LL * 1024 * 1024;
    else
        return 0;
    if (!util_parse_ll(s, (size_t)(u - s), &v)) return 0;
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul)) return 0;
    *out = v * mul;
    return 1;
}

int util_ull2str(char *buf, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int util_ll2str(char *buf, long long v) {
    if (v < 0) {
        buf[0] = '-';
        return 1 + util_ull2str(buf + 1, 0 - (unsigned long long)v);
    }
    return util_ull2str(buf, (unsigned long long)v);
}

long long util_ustime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long util_mstime(void) {
    return util_ustime() / 1000;
}

long long util_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long long util_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fold(int c, int nocase) {
    return nocase ? tolower(c) : c;
}

/* Matches one bracket class starting after the opening bracket; advances *pp and *plen past
 * the closing one. */
static int glob_class(const char **pp, size_t *plen, int c, int nocase) {
    const char *p = *pp;
    size_t n = *plen;
    int neg = 0, match = 0;
    if (n > 0 && *p == '^') neg = 1, p++, n--;
    while (n > 0 && *p != ']') {
        if (*p == '\\' && n >= 2) {
            p++, n--;
            if (fold(*p, nocase) == fold(c, nocase)) match = 1;
        } else if (n >= 3 && p[1] == '-') {
            int a = fold(p[0], nocase), b = fold(p[2], nocase), x = fold(c, nocase);
            if (a > b) {
                int t = a;
                a = b, b = t;
            }
            if (x >= a && x <= b) match = 1;
            p += 2, n -= 2;
        } else if (fold(*p, nocase) == fold(c, nocase)) {
            match = 1;
        }
        p++, n--;
    }
    if (n == 0) { /* no closing bracket: Redis treats the end as the close */
        p--, n++;
    }
    *pp = p;
    *plen = n;
    return neg ? !match : match;
}

int util_glob_match(const char *p, size_t plen, const char *s, size_t slen, int nocase) {
    while (plen > 0 && slen > 0) {
        switch (*p) {
        case '*':
            while (plen > 1 && p[1] == '*') p++, plen--;
            if (plen == 1) return 1;
            for (size_t i = 0; i <= slen; i++)
                if (util_glob_match(p + 1, plen - 1, s + i, slen - i, nocase)) return 1;
            return 0;
        case '?': s++, slen--; break;
        case '[':
            p++, plen--;
            if (!glob_class(&p, &plen, (unsigned char)*s, nocase)) return 0;
            s++, slen--;
            break;
        case '\\':
            if (plen >= 2) p++, plen--;
            /* fall through */
        default:
            if (fold((unsigned char)*p, nocase) != fold((unsigned char)*s, nocase)) return 0;
            s++, slen--;
            break;
        }
        p++, plen--;
        if (slen == 0) {
            while (plen > 0 && *p == '*') p++, plen--;
            break;
        }
    }
    return plen == 0 && slen == 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

void util_free_args(char **argv, size_t *lens, int argc) {
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    free(lens);
}

/* Reads one quoted or bare token at *pp; appends its bytes to cur. Returns 0, -1 (unbalanced). */
static int split_token(const char **pp, const char *end, char *cur, size_t *curlen) {
    const char *p = *pp;
    int inq = 0, insq = 0;
    size_t n = 0;
    for (;;) {
        if (inq) {
            if (p >= end) return -1;
            if (*p == '\\' && p + 3 < end + 0 && p[1] == 'x' && hexval(p[2]) >= 0 &&
                hexval(p[3]) >= 0) {
                cur[n++] = (char)(hexval(p[2]) * 16 + hexval(p[3]));
                p += 3;
            } else if (*p == '\\' && p + 1 < end) {
                p++;
                switch (*p) {
                case 'n': cur[n++] = '\n'; break;
                case 'r': cur[n++] = '\r'; break;
                case 't': cur[n++] = '\t'; break;
                case 'b': cur[n++] = '\b'; break;
                case 'a': cur[n++] = '\a'; break;
                default: cur[n++] = *p; break;
                }
            } else if (*p == '"') {
                if (p + 1 < end && !isspace((unsigned char)p[1])) return -1;
                p++;
                break;
            } else {
                cur[n++] = *p;
            }
        } else if (insq) {
            if (p >= end) return -1;
            if (*p == '\\' && p + 1 < end && p[1] == '\'') {
                p++;
                cur[n++] = '\'';
            } else if (*p == '\'') {
                if (p + 1 < end && !isspace((unsigned char)p[1])) return -1;
                p++;
                break;
            } else {
                cur[n++] = *p;
            }
        } else {
            if (p >= end || isspace((unsigned char)*p)) break;
            if (*p == '"')
                inq = 1;
            else if (*p == '\'')
                insq = 1;
            else
                cur[n++] = *p;
        }
        p++;
    }
    *pp = p;
    *curlen = n;
    return 0;
}

int util_split_args(const char *line, size_t len, char ***argvp, size_t **lensp) {
    const char *p = line, *end = line + len;
    char **argv = NULL;
    size_t *lens = NULL;
    int argc = 0, cap = 0, rc = -2;
    char *cur = NULL;
    for (;;) {
        while (p < end && isspace((unsigned char)*p)) p++;
        if (p >= end) break;
        size_t curlen;
        cur = malloc((size_t)(end - p) + 1);
        if (!cur) goto fail;
        if (split_token(&p, end, cur, &curlen) != 0) {
            rc = -1;
            goto fail;
        }
        cur[curlen] = '\0';
        if (argc == cap) {
            cap = cap ? cap * 2 : 8;
            char **na = realloc(argv, (size_t)cap * sizeof(*na));
            if (!na) goto fail;
            argv = na;
            size_t *nl = realloc(lens, (size_t)cap * sizeof(*nl));
            if (!nl) goto fail;
            lens = nl;
        }
        argv[argc] = cur;
        lens[argc] = curlen;
        argc++;
        cur = NULL;
    }
    *argvp = argv;
    *lensp = lens;
    return argc;
fail:
    free(cur);
    util_free_args(argv, lens, argc);
    return rc;
}

int util_eq_nocase(const char *s, size_t len, const char *lit) {
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

int util_secure_eq(const char *a, size_t alen, const char *b, size_t blen) {
    /* Compare over the longer length so the loop count does not leak the common prefix. */
    size_t n = alen > blen ? alen : blen;
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

void util_random_hex(char *out, size_t nbytes) {
    unsigned char raw[64];
    if (nbytes > sizeof raw) nbytes = sizeof raw;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, raw, nbytes) : -1;
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < nbytes; i++) {
        if (got != (ssize_t)nbytes) raw[i] = (unsigned char)(rand() ^ util_ustime());
        snprintf(out + i * 2, 3, "%02x", raw[i]);
    }
}
