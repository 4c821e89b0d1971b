/* repl_archive.h - the framing of a full sync's snapshot: after "+FULLRESYNC id offset" the
 * primary sends "$<length>\r\n" and then length bytes of framed files (little-endian):
 *
 *   file:  off size field
 *            0    4 magic    "OBKF"
 *            4    4 pathlen  bytes of the path
 *            8    8 size     bytes of the file
 *           16    n path     "db<N>/<topic directory>/<file>"
 *         16+n size bytes
 *   end:     0    4 magic    "OBKE"
 *            4    4 files    how many files came before it
 *
 * The replica accepts only paths of that shape (repl_archive_path_ok), so a primary cannot
 * make it write outside the directory it receives into. Pure codec; any thread. */
#ifndef OBK_REPL_ARCHIVE_H
#define OBK_REPL_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#define REPL_ARCHIVE_FILE_HEADER 16
#define REPL_ARCHIVE_END_SIZE    8
#define REPL_ARCHIVE_PATH_MAX    512

void repl_archive_file_header(uint8_t *out, size_t pathlen, uint64_t size);
void repl_archive_end(uint8_t *out, uint32_t nfiles);
/* Reads the 8 or 16 bytes at p (avail of them): 1 a file header (*pathlen, *size), 0 the end
 * marker (*nfiles in *size), -1 garbage. */
int repl_archive_parse(const uint8_t *p, size_t avail, size_t *pathlen, uint64_t *size);
/* 1 when path is "db<digits>/<t_ or h_ name>/<file name>" with names of safe characters. */
int repl_archive_path_ok(const char *path, size_t len);

#endif
