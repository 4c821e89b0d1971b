/* repl_archive.c - the snapshot framing of a full sync (see repl_archive.h). Pure functions. */
#include "server/repl_archive.h"

#include <string.h>

#include "base/codec.h"

void repl_archive_file_header(uint8_t *out, size_t pathlen, uint64_t size) {
    memcpy(out, "OBKF", 4);
    codec_put_u32(out + 4, (uint32_t)pathlen);
    codec_put_u64(out + 8, size);
}

void repl_archive_end(uint8_t *out, uint32_t nfiles) {
    memcpy(out, "OBKE", 4);
    codec_put_u32(out + 4, nfiles);
}

int repl_archive_parse(const uint8_t *p, size_t avail, size_t *pathlen, uint64_t *size) {
    if (avail >= REPL_ARCHIVE_END_SIZE && !memcmp(p, "OBKE", 4)) {
        *pathlen = 0;
        *size = codec_get_u32(p + 4);
        return 0;
    }
    if (avail < REPL_ARCHIVE_FILE_HEADER || memcmp(p, "OBKF", 4)) return -1;
    *pathlen = codec_get_u32(p + 4);
    *size = codec_get_u64(p + 8);
    return *pathlen > 0 && *pathlen <= REPL_ARCHIVE_PATH_MAX ? 1 : -1;
}

/* One path component of allowed characters, not "." or "..". Returns its length or 0. */
static size_t component(const char *p, size_t len) {
    size_t n = 0;
    while (n < len && p[n] != '/') {
        char ch = p[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '.' || ch == '-';
        if (!ok) return 0;
        n++;
    }
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    return n;
}

int repl_archive_path_ok(const char *path, size_t len) {
    if (len < 4 || memcmp(path, "db", 2) != 0) return 0;
    size_t n = component(path, len);
    if (n < 3 || n == len || path[n] != '/') return 0;
    for (size_t i = 2; i < n; i++)
        if (path[i] < '0' || path[i] > '9') return 0;
    const char *t = path + n + 1;
    size_t left = len - n - 1, m = component(t, left);
    if (m < 3 || m == left || t[m] != '/' || (memcmp(t, "t_", 2) && memcmp(t, "h_", 2))) return 0;
    const char *f = t + m + 1;
    left -= m + 1;
    return component(f, left) == left;
}
