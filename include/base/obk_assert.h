/* obk_assert.h - executable invariants, on in every build.
 *
 * OBK_ASSERT(cond) states what a comment would call "never": when cond is false the process
 * writes the failed condition with its file and line to standard error and aborts, so a broken
 * invariant stops the server (and a test) where it happened instead of corrupting data later.
 * The check is one predictable branch; use it where the cost is a comparison, not a scan. */
#ifndef OBK_ASSERT_H
#define OBK_ASSERT_H

/* Reports the failed condition and aborts; never returns. */
void obk_assert_fail(const char *cond, const char *file, int line, const char *func)
    __attribute__((noreturn, cold));

#define OBK_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0)) obk_assert_fail(#cond, __FILE__, __LINE__, __func__);    \
    } while (0)

#endif
