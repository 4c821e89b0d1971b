/* runtime.c - the process-wide facts (see runtime.h). The shutdown request only sets flags:
 * server.c's loop driver sees them in before_sleep, so no caller ever stops the loop from
 * inside a callback. Main thread only. */
#include "server/runtime.h"

#include "base/log.h"

struct runtime runtime;

void runtime_request_shutdown(const char *why) {
    if (!runtime.shutdown_asap) log_msg(LOG_WARNING, "%s", why);
    runtime.shutdown_asap = 1;
}

void runtime_request_fatal_shutdown(const char *why) {
    runtime.exit_code = 1;
    runtime_request_shutdown(why);
}
