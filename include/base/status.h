/* status.h - the one set of status codes every Obelisk module returns.
 *
 * Functions return OBK_OK (0) or a negative code below; results travel through out-parameters
 * (LMDB's convention). Only the server layer turns a code into a Redis error string. */
#ifndef OBK_STATUS_H
#define OBK_STATUS_H

enum obk_status {
    OBK_OK = 0,
    OBK_ERR_NOMEM = -1,        /* allocation failed */
    OBK_ERR_INVAL = -2,        /* bad argument from the caller */
    OBK_ERR_IO = -3,           /* read/write/fsync failed (errno kept by the caller) */
    OBK_ERR_NOSPC = -4,        /* no space left on device */
    OBK_ERR_CORRUPT = -5,      /* a checksum, length or ordering check failed */
    OBK_ERR_VERSION = -6,      /* a file of an unknown format version */
    OBK_ERR_NOTFOUND = -7,     /* no such topic, entry or file */
    OBK_ERR_EXISTS = -8,       /* already exists */
    OBK_ERR_RANGE = -9,        /* a value out of its allowed range */
    OBK_ERR_AGAIN = -10,       /* try later: a budget is full (backpressure) */
    OBK_ERR_STICKY = -11,      /* an earlier I/O error made the store refuse writes */
    OBK_ERR_TOOBIG = -12,      /* a record or request over its configured limit */
    OBK_ERR_CLOSED = -13,      /* the object was closed */
    OBK_ERR_KEYMISMATCH = -14, /* a topic directory holds another key (hash collision) */
    OBK_ERR_DAMAGED = -15,     /* damage before the last segment: repair needed */
    OBK_ERR_BUSY = -16,        /* held by another process (the data directory's lock) */
    OBK_ERR_NOFILES = -17,     /* out of file descriptors (EMFILE, ENFILE, storage's share used
                                  up): retry later; never an I/O error, never sticky */
};

/* obk_strerror returns a static, human-readable text for a status code. */
const char *obk_strerror(int status);

#endif
