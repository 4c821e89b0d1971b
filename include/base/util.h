/* util.h - strict number parsing, number formatting, clocks, glob matching. */
#ifndef OBK_UTIL_H
#define OBK_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Strict decimal parse as Redis does it: optional '-', no '+', no spaces, no leading zeros,
 * the whole input consumed, no overflow. Returns 1 on success, 0 otherwise. */
int util_parse_ll(const char *s, size_t len, long long *out);
/* Same rules, unsigned 64-bit. */
int util_parse_ull(const char *s, size_t len, unsigned long long *out);
/* A finite double written the way strtold accepts it (no spaces, no trailing bytes). */
int util_parse_double(const char *s, size_t len, double *out);
/* Memory size with Redis's units: 1k=1000, 1kb=1024, m/mb, g/gb; case-insensitive. */
int util_parse_memory(const char *s, long long *out);

/* Writes the decimal form of v into buf (at least 21 bytes); returns its length. */
int util_ll2str(char *buf, long long v);
int util_ull2str(char *buf, unsigned long long v);

long long util_ustime(void); /* wall clock, microseconds since the epoch */
long long util_mstime(void); /* wall clock, milliseconds since the epoch */
/* Writes 2 * nbytes random hex digits and a NUL (from /dev/urandom; the clock and rand() only
 * if it cannot be read): run ids and replication ids. */
void util_random_hex(char *out, size_t nbytes);
long long util_monotonic_us(void); /* monotonic clock, microseconds */
long long util_monotonic_ns(void); /* monotonic clock, nanoseconds */

/* Glob-style match (Redis's stringmatchlen): * ? [a-z] [^a] and \ escapes. */
int util_glob_match(const char *pat, size_t patlen, const char *s, size_t slen, int nocase);

/* Split a line into arguments as Redis's sdssplitargs does: spaces separate, "..." with
 * \n \r \t \b \a \\ \" \xHH escapes, '...' with \' only; a closing quote must be followed by a
 * space or the end. On success returns the argument count (0 for a blank line) and sets *argv
 * and *lens (one malloc'd, NUL-terminated string each; free with util_free_args). Returns -1 on
 * unbalanced quotes, -2 when out of memory. */
int util_split_args(const char *line, size_t len, char ***argv, size_t **lens);
void util_free_args(char **argv, size_t *lens, int argc);

/* Case-insensitive comparison of a counted string with a C string. */
int util_eq_nocase(const char *s, size_t len, const char *lit);

/* Constant-time comparison of two byte strings (the time does not depend on where they differ,
 * only on their lengths). Returns 1 when equal. */
int util_secure_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
