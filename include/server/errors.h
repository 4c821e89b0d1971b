/* errors.h - every error text a client can match, in one table.
 *
 * Texts are Redis 7.0's byte for byte where Redis has the same error; the leading word is the
 * error code clients switch on (ERR, NOAUTH, WRONGPASS, ...). Texts with a %s or %d are
 * formats for reply_errorf. */
#ifndef OBK_ERRORS_H
#define OBK_ERRORS_H

#define ERR_UNKNOWN_COMMAND    "ERR unknown command '%.128s', with args beginning with: %s"
#define ERR_UNKNOWN_SUBCOMMAND "ERR unknown subcommand '%.128s'. Try %s HELP."
#define ERR_WRONG_ARITY        "ERR wrong number of arguments for '%s' command"
#define ERR_SYNTAX             "ERR syntax error"
#define ERR_NOT_INTEGER        "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT          "ERR value is not a valid float"
#define ERR_NOAUTH             "NOAUTH Authentication required."
#define ERR_NOAUTH_HELLO                                                                           \
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "      \
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "        \
    "protocol version at the same time"
#define ERR_WRONGPASS      "WRONGPASS invalid username-password pair or user is disabled."
#define ERR_NOPERM_COMMAND "NOPERM this user has no permissions to run the '%s' command"
#define ERR_NOPERM_KEY                                                                             \
    "NOPERM this user has no permissions to access one of the keys used as arguments"
#define ERR_NOPERM_CHANNEL                                                                         \
    "NOPERM this user has no permissions to access one of the channels used as arguments"
#define ERR_NOPERM_EXEC                                                                            \
    "NOPERM ACLs rules changed between the moment the transaction was accumulated and "            \
    "the EXEC call. This command is no longer allowed for the following reason: %s"
#define ERR_AUTH_NOPASS                                                                            \
    "ERR AUTH <password> called without any password configured for the default user. Are you "    \
    "sure your configuration is correct?"
#define ERR_NOPROTO            "NOPROTO unsupported protocol version"
#define ERR_DB_RANGE           "ERR DB index is out of range"
#define ERR_MULTI_NESTED       "ERR MULTI calls can not be nested"
#define ERR_EXEC_NO_MULTI      "ERR EXEC without MULTI"
#define ERR_DISCARD_NO_MULTI   "ERR DISCARD without MULTI"
#define ERR_EXECABORT          "EXECABORT Transaction discarded because of previous errors."
#define ERR_EXECABORT_BECAUSE  "EXECABORT Transaction discarded because of: %s"
#define ERR_NOT_IN_TRANSACTION "ERR Command not allowed inside a transaction"
#define ERR_PUBSUB_CONTEXT                                                                         \
    "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "    \
    "allowed in this context"
#define ERR_MAXCLIENTS "ERR max number of clients reached"
#define ERR_LOADING    "LOADING Obelisk is loading the dataset in memory"
#define ERR_READONLY   "READONLY You can't write against a read only replica."
#define ERR_NOREPLICAS "NOREPLICAS Not enough good replicas to write."
#define ERR_WAIT_REPLICA                                                                           \
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if "    \
    "a replica is configured to be writable (which is not the default) writes to replicas "        \
    "are just local and are not propagated."
#define ERR_NOMASTERLINK        "NOMASTERLINK Can't SYNC while not connected with my master"
#define ERR_NO_SUCH_CLIENT      "ERR No such client"
#define ERR_CLIENT_NAME         "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_CLIENT_INFO_CHARS   "ERR %s cannot contain spaces, newlines or special characters."
#define ERR_UNRECOGNIZED_OPTION "ERR Unrecognized option '%.128s'"
#define ERR_DEBUG_DISABLED                                                                         \
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "  \
    "can run it from a local connection, otherwise you need to set this option in the "            \
    "configuration file, and then restart the server."
#define ERR_DENIED_PROTECTED                                                                       \
    "DENIED Redis is running in protected mode because protected mode is enabled and no "          \
    "password is set for the default user. In this mode connections are only accepted from the "   \
    "loopback interface. If you want to connect from external computers to Redis you may adopt "   \
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "  \
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "     \
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "         \
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "   \
    "you can just disable the protected mode by editing the Redis configuration file, and "        \
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "        \
    "started the server manually just for testing, restart it with the '--protected-mode no' "     \
    "option. 4) Set up an authentication password for the default user. NOTE: You only need to "   \
    "do one of the above things in order for the server to start accepting connections from "      \
    "the outside."
#define ERR_PROTOCOL "ERR %s"

/* Command and storage errors (streams, groups, keys, clients, config). */
#define ERR_BUSYGROUP          "BUSYGROUP Consumer Group name already exists"
#define ERR_CLIENT_ID_POSITIVE "ERR client-id should be greater than 0"
#define ERR_CONFIG_SET_DUPLICATE                                                                   \
    "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter"
#define ERR_CONFIG_SET_FAILED "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
#define ERR_CONFIG_SET_IMMUTABLE                                                                   \
    "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config"
#define ERR_CONFIG_SET_UNKNOWN     "ERR Unknown option or number of arguments for CONFIG SET - '%s'"
#define ERR_COUNT_POSITIVE         "ERR COUNT must be > 0"
#define ERR_DEBUG_SUBCOMMAND       "ERR unknown subcommand '%.128s'. Try DEBUG HELP."
#define ERR_ELEMENTS_TOO_LARGE     "ERR Elements are too large to be stored"
#define ERR_ENTRIESREAD_VALUE      "ERR value for ENTRIESREAD must be positive or -1"
#define ERR_ENTRIES_ADDED_NEGATIVE "ERR entries_added must be positive"
#define ERR_FLUSH_FAILED           "ERR flush failed, see the server log"
#define ERR_FUNCTION_FLUSH_ARITY                                                                   \
    "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP."
#define ERR_FUNCTION_FLUSH_SUPPORTS "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
#define ERR_HELLO_OPTION            "ERR Syntax error in HELLO option '%.128s'"
#define ERR_INVALID_CLIENT_ID       "ERR Invalid client ID"
#define ERR_INVALID_CURSOR          "ERR invalid cursor"
#define ERR_INVALID_END_ID          "ERR invalid end ID for the interval"
#define ERR_INVALID_START_ID        "ERR invalid start ID for the interval"
#define ERR_LIMIT_NEGATIVE          "ERR The LIMIT argument must be >= 0."
#define ERR_LIMIT_WITHOUT_STRATEGY                                                                 \
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
#define ERR_LIMIT_WITHOUT_TILDE                                                                    \
    "ERR syntax error, LIMIT cannot be used without the special ~ option"
#define ERR_MAXLEN_AND_MINID                                                                       \
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
#define ERR_MAXLEN_NEGATIVE "ERR The MAXLEN argument must be >= 0."
#define ERR_MISCONF         "MISCONF Errors writing to the data directory"
#define ERR_MISCONF_DETAIL  "MISCONF Errors writing to the data directory: %s"
#define ERR_CACHE_FULL                                                                             \
    "BUSY the stream cache is full of entries not yet written to disk; retry shortly"
#define ERR_NOFILES                                                                                \
    "ERR too many open files: storage has no file descriptor free for this stream; retry "         \
    "later, or raise max-open-files-storage"
#define ERR_NOGROUP_BLOCKED_GONE                                                                   \
    "NOGROUP the consumer group this client was blocked on no longer exists"
#define ERR_NOGROUP_FOR_KEY      "NOGROUP No such consumer group '%s' for key name '%s'"
#define ERR_NOGROUP_KEY_OR_GROUP "NOGROUP No such key '%s' or consumer group '%s'"
#define ERR_NOGROUP_XREADGROUP                                                                     \
    "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option"
#define ERR_NO_SUCH_KEY       "ERR no such key"
#define ERR_NO_SUCH_USER      "ERR No such user '%s'"
#define ERR_OUT_OF_MEMORY     "ERR out of memory"
#define ERR_PROTO_NOT_INTEGER "ERR Protocol version is not an integer or out of range"
#define ERR_RETENTION_VALUE                                                                        \
    "ERR retention must be a non-negative integer, -1 (keep everything) or DEFAULT"
#define ERR_SETTING_UNKNOWN                                                                        \
    "ERR unknown topic setting: expected retention-bytes, retention-ms, compression or "           \
    "compression-level"
#define ERR_COMPRESSION_VALUE "ERR compression must be none, zstd or DEFAULT"
#define ERR_COMPRESSION_LEVEL "ERR compression-level must be an integer from 1 to 19, or DEFAULT"
#define ERR_SAVE_NO_BACKUP_DIR                                                                     \
    "ERR SAVE and BGSAVE write a backup under backup-dir, which is not set (CONFIG SET "           \
    "backup-dir <directory>, or BACKUP <path>); the data set itself is on disk as it is written"
#define ERR_STORAGE_ERROR "ERR storage error: %s"
#define ERR_STREAM_EXHAUSTED                                                                       \
    "ERR The stream has exhausted the last possible ID, unable to add more items"
#define ERR_STREAM_READ_FAILED                                                                     \
    "ERR stream read failed: %s (see the server log; obelisk-check can verify the data directory)"
#define ERR_TIMEOUT_NEGATIVE    "ERR timeout is negative"
#define ERR_TIMEOUT_NOT_INTEGER "ERR timeout is not an integer or out of range"
#define ERR_UNBLOCKED_KEY_GONE  "UNBLOCKED the stream key no longer exists"
#define ERR_UNKNOWN_CLIENT_TYPE "ERR Unknown client type '%s'"
#define ERR_XADD_ID_TOO_SMALL                                                                      \
    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
#define ERR_XADD_ID_ZERO        "ERR The ID specified in XADD must be greater than 0-0"
#define ERR_XAUTOCLAIM_MIN_IDLE "ERR Invalid min-idle-time argument for XAUTOCLAIM"
#define ERR_XCLAIM_IDLE         "ERR Invalid IDLE option argument for XCLAIM"
#define ERR_XCLAIM_MIN_IDLE     "ERR Invalid min-idle-time argument for XCLAIM"
#define ERR_XCLAIM_OPTION       "ERR Unrecognized XCLAIM option '%s'"
#define ERR_XCLAIM_RETRYCOUNT   "ERR Invalid RETRYCOUNT option argument for XCLAIM"
#define ERR_XCLAIM_TIME         "ERR Invalid TIME option argument for XCLAIM"
#define ERR_XCOMMIT_ID_TOO_BIG                                                                     \
    "ERR The ID specified in XCOMMIT is greater than the stream's last ID"
#define ERR_XGROUP_NEEDS_KEY                                                                       \
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "   \
    "use the MKSTREAM option to create an empty stream automatically."
#define ERR_XGROUP_SUBCOMMAND_ARITY                                                                \
    "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try XGROUP HELP."
#define ERR_XINFO_STREAM_ARITY                                                                     \
    "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
#define ERR_XREADGROUP_DOLLAR                                                                      \
    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "   \
    "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID "      \
    "would just return an empty result set."
#define ERR_XREADGROUP_PLUS                                                                        \
    "ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of "   \
    "this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID "      \
    "would just return an empty result set."
#define ERR_XREADGROUP_NO_GROUP "ERR Missing GROUP option for XREADGROUP"
/* Dead-letter streams (Obelisk's XGROUP CREATE ... MAXDELIVERIES, XGROUP SETDLQ) */
#define ERR_DLQ_MAX_POSITIVE "ERR MAXDELIVERIES must be a positive integer"
#define ERR_DLQ_MAX_NEGATIVE "ERR maxdeliveries must be an integer >= 0 (0 clears the policy)"
#define ERR_DLQ_NEEDS_MAX    "ERR DEADLETTER needs MAXDELIVERIES"
#define ERR_DLQ_EMPTY_KEY    "ERR the dead-letter key must not be empty"
#define ERR_DLQ_SAME_KEY     "ERR the dead-letter stream must be another key than the stream"
/* XNACK (Redis 8.8) */
#define ERR_XNACK_NOGROUP         "NOGROUP No such key '%s' or consumer group '%s'"
#define ERR_XNACK_MODE            "ERR mode must be SILENT, FAIL, or FATAL"
#define ERR_XNACK_NUMIDS          "ERR numids must be a positive integer"
#define ERR_XNACK_NUMIDS_MISMATCH "ERR number of IDs doesn't match numids"
#define ERR_XNACK_RETRYCOUNT      "ERR Invalid RETRYCOUNT value, must be >= 0"
#define ERR_XNACK_OPTION          "ERR Unrecognized XNACK option '%s'"
#define ERR_XNACK_NO_IDS          "ERR syntax error, expected IDS keyword"
/* Idempotent producers: XADD ... IDMP / IDMPAUTO, XCFGSET (Redis 8.6) */
#define ERR_IDMP_TWICE "ERR syntax error, IDMP/IDMPAUTO specified multiple times"
#define ERR_IDMP_AUTO_ID_ONLY                                                                      \
    "ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs"
#define ERR_IDMP_EMPTY_PID     "ERR syntax error, IDMP requires a non-empty producer ID"
#define ERR_IDMP_EMPTY_IID     "ERR syntax error, IDMP requires a non-empty idempotent ID"
#define ERR_IDMPAUTO_EMPTY_PID "ERR syntax error, IDMPAUTO requires a non-empty producer ID"
#define ERR_XCFGSET_DURATION   "ERR IDMP-DURATION must be between 1 and 86400 seconds"
#define ERR_XCFGSET_MAXSIZE    "ERR IDMP-MAXSIZE must be between 1 and 10000 entries"
#define ERR_XCFGSET_TWICE      "ERR %s specified multiple times"
#define ERR_XCFGSET_NONE       "ERR At least one parameter must be specified"
/* XREAD / XREADGROUP MAXCOUNT and MAXSIZE (Redis 8.10; only the first text is confirmed by
 * Redis's tests, the others follow its wording) */
#define ERR_MAXCOUNT_POSITIVE    "ERR MAXCOUNT must be a positive integer"
#define ERR_MAXSIZE_POSITIVE     "ERR MAXSIZE must be a positive integer"
#define ERR_MAXCOUNT_BELOW_COUNT "ERR MAXCOUNT must be greater than or equal to COUNT"
/* XREADGROUP CLAIM (Redis 8.4) */
#define ERR_CLAIM_NOT_INTEGER "ERR min-idle-time is not an integer or out of range"
#define ERR_CLAIM_NEGATIVE    "ERR min-idle-time must be a positive integer"
#define ERR_XREAD_GROUP_OPTION                                                                     \
    "ERR The %s option is only supported by XREADGROUP. You called XREAD instead."
#define ERR_XREAD_GT_ID                                                                            \
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "          \
    "<consumer> option."
#define ERR_IDS_NOT_POSITIVE   "ERR Number of IDs must be a positive integer"
#define ERR_IDS_COUNT_MISMATCH "ERR The `numids` parameter must match the number of arguments"
#define ERR_XREAD_PLUS_ZERO    "ERR the stream last element ID is 0-0"
#define ERR_XREAD_UNBALANCED                                                                       \
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
#define ERR_XSETID_BELOW_MAX_DELETED                                                               \
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
#define ERR_XSETID_BELOW_TOP                                                                       \
    "ERR The ID specified in XSETID is smaller than the target stream top item"
#define ERR_XSETID_ENTRIES_ADDED                                                                   \
    "ERR The entries_added specified in XSETID is smaller than the target stream length"
#define ERR_XTRIM_NO_STRATEGY "ERR syntax error, XTRIM must be called with a trimming strategy"

/* The HTTP API (http_api.c, and http_body_limit.c for bodies refused before they are read):
 * the "code" and "message" of {"error": {...}} bodies. Errors of the commands it runs keep
 * their text above, with a code derived from the error word. */
#define HTTP_ERR_NOT_FOUND        "not_found", "no such route"
#define HTTP_ERR_METHOD           "method_not_allowed", "method not allowed on this route"
#define HTTP_ERR_BAD_JSON         "bad_json", "the body is not valid JSON"
#define HTTP_ERR_NOT_OBJECT       "bad_request", "the body must be a JSON object"
#define HTTP_ERR_UNKNOWN_MEMBER   "bad_request", "unknown member in the body"
#define HTTP_ERR_FIELDS           "bad_request", "fields must be a non-empty object of strings"
#define HTTP_ERR_ENTRIES          "bad_request", "entries must be a non-empty array of objects"
#define HTTP_ERR_FIELDS_OR_BATCH  "bad_request", "give one of fields, pairs or entries"
#define HTTP_ERR_PAIRS            "bad_request", "pairs must be a non-empty array of [name, value]"
#define HTTP_ERR_BATCH_LIMIT      "payload_too_large", "too many entries in one request"
#define HTTP_ERR_BODY_LIMIT       "payload_too_large", "the body is larger than http-api-max-body"
#define HTTP_ERR_BAD_CHUNKED      "bad_request", "chunked body: bad chunk size, or trailer fields"
#define HTTP_ERR_BAD_PARAM        "bad_request", "invalid query parameter"
#define HTTP_ERR_BAD_MEMBER       "bad_request", "a member has the wrong type or value"
#define HTTP_ERR_BAD_DB           "bad_request", "db must be a database index"
#define HTTP_ERR_BAD_KEY          "bad_request", "bad percent-encoding in the path"
#define HTTP_ERR_COUNT_LIMIT      "bad_request", "count is above http-api-max-count"
#define HTTP_ERR_SSE_LIMIT        "unavailable", "too many live tails open (http-api-max-sse)"
#define HTTP_ERR_NO_CONN          "unavailable", "no internal connection available (maxclients)"
#define HTTP_ERR_LOST             "internal", "the command connection was lost"
#define HTTP_ERR_RANGE_REQUIRED   "bad_request", "search needs start and end"
#define HTTP_ERR_NO_KEY           "not_found", "no such topic"
#define HTTP_ERR_AUTH_REQUIRED    "unauthorized", "authentication required"
#define HTTP_ERR_AUTH_INVALID     "unauthorized", "invalid credentials"
#define HTTP_ERR_FORBIDDEN_SELECT "forbidden", "this user may not run SELECT for this db"
#define HTTP_ERR_FORBIDDEN_INFO   "forbidden", "this user may not run INFO, which this page reports"
#define HTTP_ERR_PROTECTED        "forbidden", ERR_DENIED_PROTECTED
/* SLOWLOG, LATENCY, MEMORY, OBJECT and the other operator's commands */
#define ERR_SLOWLOG_COUNT "ERR count should be greater than or equal to -1"
#define ERR_SLOWLOG_GET_ARITY                                                                      \
    "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
#define ERR_TIMEOUT_NEGATIVE     "ERR timeout is negative"
#define ERR_TIMEOUT_OUT_OF_RANGE "ERR timeout is out of range"
#define ERR_CLIENT_PAUSE_MODE    "ERR CLIENT PAUSE mode must be WRITE or ALL"
#define ERR_CLIENT_PAUSE_ARITY                                                                     \
    "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."
#define ERR_MONITOR_IN_EXEC "ERR MONITOR isn't allowed for DENY BLOCKING client"
#define ERR_OBJECT_FREQ_NO_LFU                                                                     \
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that " \
    "when switching between policies at runtime LRU and LFU data will take some time to adjust."
#define ERR_OBJECT_IDLETIME                                                                        \
    "ERR Obelisk keeps no access time per key (it never evicts keys), so IDLETIME is not tracked."

#endif
