/* storetest.h - what the storage unit tests share: a fresh temporary directory per test, and
 * a commit that hands everything to the persist thread and waits until it is durable. */
#ifndef OBK_STORETEST_H
#define OBK_STORETEST_H

#include <stddef.h>

struct store;

/* Makes <TMPDIR or /tmp>/obk_<tag>_XXXXXX and writes its path into dir (fails the test
 * otherwise). */
void storetest_tmpdir(char *dir, size_t cap, const char *tag);
/* Removes the directory and everything below it, and its crash image <dir>.img if one was
 * taken (fails the test otherwise). */
void storetest_rmdir(const char *dir);
/* store_flush(s, 1), then waits (up to about 50 s) until everything submitted is durable;
 * fails the test on a storage error or when it never becomes durable. */
void storetest_commit(struct store *s);
/* A copy of the directory as it is now (a crash image) at <dir>.img, and the directory put back
 * to that copy. */
void storetest_image_take(const char *dir);
void storetest_image_restore(const char *dir);

#endif
