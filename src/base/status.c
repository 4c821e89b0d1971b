/* status.c - texts for the status codes of status.h. Stateless; any thread. */
#include "base/status.h"

const char *obk_strerror(int status) {
    switch (status) {
    case OBK_OK: return "success";
    case OBK_ERR_NOMEM: return "out of memory";
    case OBK_ERR_INVAL: return "invalid argument";
    case OBK_ERR_IO: return "input/output error";
    case OBK_ERR_NOSPC: return "no space left on device";
    case OBK_ERR_CORRUPT: return "data corrupted (checksum, length or order check failed)";
    case OBK_ERR_VERSION: return "unsupported format version";
    case OBK_ERR_NOTFOUND: return "not found";
    case OBK_ERR_EXISTS: return "already exists";
    case OBK_ERR_RANGE: return "value out of range";
    case OBK_ERR_AGAIN: return "resource temporarily exhausted";
    case OBK_ERR_STICKY: return "writes refused after an earlier I/O error";
    case OBK_ERR_TOOBIG: return "over the configured size limit";
    case OBK_ERR_CLOSED: return "closed";
    case OBK_ERR_KEYMISMATCH: return "topic directory holds a different key";
    case OBK_ERR_DAMAGED: return "damage found in a sealed segment (repair needed)";
    case OBK_ERR_BUSY: return "in use by another process";
    case OBK_ERR_NOFILES: return "too many open files";
    }
    return "unknown status";
}
