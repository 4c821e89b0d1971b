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
#define ERR_TIMEOUT_NOT_FLOAT  "ERR timeout is not a float or out of range"
#define ERR_NOAUTH             "NOAUTH Authentication required."
#define ERR_NOAUTH_HELLO                                                                           \
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "      \
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "        \
    "protocol version at the same time"
#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."
#define ERR_AUTH_NOPASS                                                                            \
    "ERR AUTH <password> called without any password configured for the default user. Are you "    \
    "sure your configuration is correct?"
#define ERR_NOPROTO             "NOPROTO unsupported protocol version"
#define ERR_DB_RANGE            "ERR DB index is out of range"
#define ERR_MULTI_NESTED        "ERR MULTI calls can not be nested"
#define ERR_EXEC_NO_MULTI       "ERR EXEC without MULTI"
#define ERR_DISCARD_NO_MULTI    "ERR DISCARD without MULTI"
#define ERR_EXECABORT           "EXECABORT Transaction discarded because of previous errors."
#define ERR_MAXCLIENTS          "ERR max number of clients reached"
#define ERR_LOADING             "LOADING Obelisk is loading the dataset in memory"
#define ERR_NO_SUCH_CLIENT      "ERR No such client"
#define ERR_CLIENT_NAME         "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_CLIENT_INFO_CHARS   "ERR %s cannot contain spaces, newlines or special characters."
#define ERR_UNRECOGNIZED_OPTION "ERR Unrecognized option '%.128s'"
#define ERR_CONFIG_UNKNOWN      "ERR Unknown option or number of arguments for CONFIG SET - '%.128s'"
#define ERR_CONFIG_FAILED       "ERR CONFIG SET failed (possibly related to argument '%.128s') - %s"
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

#endif
