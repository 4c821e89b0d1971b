/* config_rewrite.h - CONFIG REWRITE: the running configuration written back into the config
 * file the server started with (comments and unknown lines kept, changed directives rewritten
 * in place, new non-default ones appended). Foundation level, beside config. Main thread. */
#ifndef OBK_CONFIG_REWRITE_H
#define OBK_CONFIG_REWRITE_H

#include <stddef.h>

/* Returns 0, or -1 with Redis's reason text (without the "ERR " prefix) in err. */
int config_rewrite(char *err, size_t errlen);

#endif
