/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli — the witan command. main.c dispatches on the first word to one
 * function per command group, each in its own file; each group parses its own
 * flags, prints human-readable text by default (JSON with --json where the
 * group offers it) and answers --help.
 *
 * A group function returns the process exit status: 0 on success, 1 when the
 * operation failed (the message is already printed on stderr), 2 on a usage
 * error.
 */
#ifndef WITAN_CLI_H
#define WITAN_CLI_H

#include "common/common.h"
#include "crypto/crypto.h"

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the group's name */
};

int cli_keys(int argc, char **argv);
int cli_model(int argc, char **argv);
int cli_contract(int argc, char **argv);
int cli_init(int argc, char **argv);
int cli_attest(int argc, char **argv);
int cli_member(int argc, char **argv);
int cli_query(int argc, char **argv);
int cli_node(int argc, char **argv);
int cli_testnet(int argc, char **argv);
int cli_audit(int argc, char **argv);
/* witan export (cli/export.c); `export chain` is `audit export`, which
 * cli_audit_export runs (cli/audit.c; argv[1] is the verb). */
int cli_export(int argc, char **argv);
int cli_audit_export(int argc, char **argv);
/* Writes a testnet CA and one certificate and key per node (cli/tls.c). */
int cli_tls_testnet(const char *dir, int nodes);

/* Prints "witan: <what>: <message of err>" on stderr and returns 1. */
int cli_fail(const char *what, int err);

/* True when argv[1..] contains --help or -h. */
int cli_wants_help(int argc, char **argv);

/* --- talking to a node (cli/client.c) --------------------------------------- */

#include "spec/witan.pb-c.h"

/* Where the node listens: --node URL, else the `listen` of --home DIR's
 * config, else tcp://127.0.0.1:7400. Writes into out (at least 256 bytes). */
void cli_node_address(const char *node, const char *home, char *out,
                      size_t out_size);

/* cli_node_address from argv's --node and --home, then --tls-ca FILE and
 * --tls-server-name NAME over what the home said (cli_client_tls). With
 * --home (and --node or not), the next cli_call first checks that the node
 * serves the chain of the home's genesis.json (when it has one readable). */
void cli_node_connect(int argc, char **argv, char *out, size_t out_size);

/*
 * How cli_call verifies tls+tcp:// nodes from now on: their certificate
 * must chain to the CA in ca_path and, unless server_name is NULL or empty,
 * carry that name (CN or DNS name). cli_node_address sets both from a
 * home's config (its tls_ca, and the CN of its tls_cert) when that home
 * listens on tls+tcp://. Cannot fail; copies both strings.
 */
void cli_client_tls(const char *ca_path, const char *server_name);

/* The CN of the certificate in the PEM file at `path` (cli/tls.c).
 * WITAN_EIO when it cannot be read or parsed, WITAN_ENOTFOUND without a CN. */
int cli_tls_cert_name(const char *path, char *out, size_t out_size);

/* What every command that talks to a node says about it in --help. */
#define CLI_NODE_HELP                                                         \
    "Node: --node URL, else the listen address in --home DIR's config (a\n"  \
    "home whose config cannot be read is an error), else\n"                  \
    "tcp://127.0.0.1:7400. A tls+tcp:// node must show a certificate that\n"  \
    "chains to the CA in --tls-ca FILE (with --home: that home's tls_ca, and\n" \
    "the name in its tls_cert); --tls-server-name NAME also checks its name.\n" \
    "With --home, the node must serve the chain of DIR's genesis.json: one\n"  \
    "that serves another chain is refused before anything is sent (exit 1).\n"

/* Commands that sign: the sender is the key's own account, or with
 * --account the account the key now belongs to (after a rotation the key
 * no longer derives its address). */
#define CLI_SIGN_HELP                                                         \
    "Signing: --key FILE signs for the account its public key names; after\n" \
    "a key rotation give that account with --account ADDRESS (40 hex).\n"

/* The account a signing command acts for: --account, else the address of
 * the key's public key. 0, or 2 after saying what is wrong. */
int cli_sender(int argc, char **argv, const wcrypto_keypair *kp,
               uint8_t sender[WITAN_ADDRESS_SIZE]);

/*
 * Sends one request and waits for the response (timeout_ms). On success
 * *resp is owned by the caller (witan__response__free_unpacked). WITAN_ENET
 * (message printed) when the node cannot be reached; WITAN_ECONFIG (printed:
 * "the node at X serves chain A, but DIR's genesis is chain B") when the
 * first call after cli_node_connect finds the node on another chain than
 * --home's genesis, then nothing else is sent.
 */
int cli_call(const char *address, const Witan__Request *req, int timeout_ms,
             Witan__Response **resp);

/* Prints a response-level error ("witan: <what>: <message> (NAME)") and
 * returns 1; returns 0 when the response carries none. */
int cli_response_error(const char *what, const Witan__Response *resp);

/* Parses a decimal like "-12.345" into mantissa and scale. WITAN_EINVAL,
 * WITAN_ERANGE (over 18 fraction digits or out of int64). */
int cli_parse_decimal(const char *text, int64_t *mantissa, uint32_t *scale);
/* Fixed point Q.frac_bits as a decimal for people, 6 places. */
void cli_format_fixed(int64_t v, uint32_t frac_bits, char *out,
                      size_t out_size);
/* Formats mantissa × 10^-scale exactly. */
void cli_format_decimal(int64_t mantissa, uint32_t scale, char *out,
                        size_t out_size);
/* Times are parsed by witan_time_parse (common/), as the gateway's are. */
#define CLI_TIME_HELP                                                         \
    "Times: YYYY-MM or YYYY-MM-DD (UTC), or YYYY-MM-DDTHH:MM[:SS[.sss]] with\n" \
    "Z or an offset such as +02:00; @SECONDS or ms:MILLISECONDS since 1970;\n" \
    "a bare number of 12 or more digits is milliseconds (a shorter one is\n"   \
    "refused: it may be seconds).\n"
void cli_format_time(int64_t ms, char *out, size_t out_size);

/* Signs a TxBody with a key pair into a serialized Envelope (malloc'd). */
int cli_sign_tx(const Witan__TxBody *body, const wcrypto_keypair *kp,
                uint8_t **out, size_t *out_size, uint8_t hash[WITAN_HASH_SIZE]);

/* How long a client waits for a commit: polls of the transaction's state,
 * CLI_WAIT_POLL_MS apart. */
#define CLI_WAIT_POLL_COUNT_MAX 3000
#define CLI_WAIT_POLL_MS 10

/* Submits one envelope (a refusal is printed on stderr: exit status 1),
 * and with `wait` polls until it is committed or dropped: *out is then
 * that TxResponse (the caller frees it with
 * witan__response__free_unpacked); without `wait` *out is NULL. Returns
 * the exit status; with `nonce_taken_quiet`, CLI_NONCE_TAKEN, with nothing
 * printed, when the node refused it because its nonce was already used or
 * it was dropped because another transaction took the nonce. */
#define CLI_NONCE_TAKEN (-1)
int cli_submit_wait(const char *address, const uint8_t *env, size_t env_size,
                    const uint8_t hash[WITAN_HASH_SIZE], bool wait,
                    bool nonce_taken_quiet, Witan__Response **out);
/* "HASH committed at height H: STATUS" or "HASH dropped: ..." for a
 * settled transaction; 0 only when committed with status OK. */
int cli_print_settled(const uint8_t hash[WITAN_HASH_SIZE],
                      const Witan__TxResponse *t);
/* A submitted transaction as JSON on stdout, one line: with `t` (it
 * settled) what GET /v1/tx/{hash} answers, `tx_hash` first, `body`
 * decoded and, with `runs`, the runs it caused (render_json_tx); without
 * (not waited for) {"tx_hash": HEX, "state": "TX_STATE_PENDING"}. Exit
 * status: 0, or 1 after saying why it could not be written. */
int cli_print_tx_json(const uint8_t hash[WITAN_HASH_SIZE],
                      const Witan__TxResponse *t,
                      const Witan__RunsResponse *runs);
/* 0 when t committed with status OK, else 1. */
int cli_tx_ok(const Witan__TxResponse *t);
/* A receipt status without its TX_STATUS_ prefix ("OK", "CONTRACT_RETIRED"). */
const char *cli_tx_status_name(Witan__TxStatus s);

/* Times a transaction is signed again with the next nonce when another
 * transaction of the same key took its nonce: the node asked may not yet
 * have applied a block another validator had (the key's previous
 * transaction, sent elsewhere). */
#define CLI_NONCE_RETRY_MAX 3

/* Signs (with --key) a TxBody whose payload the caller set, chain id,
 * sender and nonce from the node named by argv's node flags (written to
 * `address`), and submits it as cli_submit_wait does; a refusal or a drop
 * because another transaction took the nonce is retried (see
 * CLI_NONCE_RETRY_MAX). `hash` is the last one signed. Exit status. */
int cli_sign_submit(int argc, char **argv, Witan__TxBody *body, bool wait,
                    char *address, size_t address_size,
                    uint8_t hash[WITAN_HASH_SIZE], Witan__Response **out);

/* Builds, signs (with --key) and submits a TxBody whose payload the caller
 * set; fills chain id, sender and nonce from the node; prints its hash, or
 * with --wait its receipt; with --json as cli_print_tx_json. Exit status. */
int cli_sign_and_submit(int argc, char **argv, Witan__TxBody *body);

/* Models on chain (cli/model_chain.c), reached through `witan model` and
 * `witan query predictions`. */
int cli_model_chain(int argc, char **argv);
int cli_query_predictions(const char *address, int argc, char **argv);

/* Decision contracts on chain (cli/contract_chain.c: deploy, call,
 * retire, list, show; -1 for another verb) and their decisions
 * (cli/decisions.c). */
int cli_contract_chain(int argc, char **argv);
int cli_decisions(int argc, char **argv);
/* Governance (cli/governance.c): propose, vote and proposals, by argv[0]. */
int cli_governance(int argc, char **argv);

/* witan audit prove and check (cli/proof.c); -1 for another verb. */
int cli_audit_proof(int argc, char **argv);
/* A contract's bytes for people: "text" when every byte is printable
 * ASCII, else 0x and hex (the HTTP JSON's `_text` rule). */
void cli_print_bytes_text(const ProtobufCBinaryData *b);
/* The runs a transaction caused, each with its end in words (ledger_run_why),
 * then their decisions and events. */
void cli_print_runs(const Witan__RunsResponse *r);
/* Asks the node for a transaction's runs; *out (with `runs` set) is the
 * caller's. Exit status (the failure is printed). */
int cli_fetch_runs(const char *address, const uint8_t hash[WITAN_HASH_SIZE],
                   Witan__Response **out);
/* Assembles the text file at `path` into a module; prints the line and
 * reason of an error. *bin is malloc'd; with `text` non-NULL the text is
 * kept there too (malloc'd, NUL-terminated). WITAN_EASM, WITAN_EVERIFY,
 * WITAN_EIO, WITAN_ELIMIT, WITAN_ENOMEM. */
int cli_contract_assemble(const char *path, uint8_t **bin, size_t *size,
                          char **text);
/* Compiles a contract-language file (spec/language.md), printing its errors:
 * the module, its source map and the source text (each optional, malloc'd).
 * WITAN_ECOMPILE when it has errors, or a read error. */
int cli_contract_compile(const char *path, bool check_only, uint8_t **bin,
                         size_t *size, char **map, size_t *map_size,
                         char **src);
/* Reads a whole file of at most `max` bytes into a malloc'd, NUL-terminated
 * buffer; prints why it cannot. */
int cli_contract_read(const char *path, size_t max, uint8_t **out,
                      size_t *size);

/* A DeployContract from `contract deploy`'s flags (--name, --version,
 * --module|--asm, --gas, --model with its trigger flags, --replaces,
 * --start-height, --source|--no-source, --language, --compiler), for the
 * deploy command and for proposals that deploy by governance. 0, or the
 * exit status after saying what was wrong. Free with cli_deployment_free. */
struct cli_deployment {
    Witan__DeployContract d;
    Witan__ContractTrigger triggers[WITAN_CONTRACT_TRIGGER_COUNT_MAX];
    Witan__ContractTrigger *tptr[WITAN_CONTRACT_TRIGGER_COUNT_MAX];
    uint8_t models[WITAN_CONTRACT_TRIGGER_COUNT_MAX][WITAN_HASH_SIZE];
    uint8_t replaced[WITAN_HASH_SIZE];
    uint8_t *bin, *src, *map;
    char *asm_text;
    char *wcl_text, *wcl_map; /* a compiled source and its map */
    char compiler[WITAN_CONTRACT_COMPILER_SIZE_MAX + 1];
};
int cli_deployment_parse(int argc, char **argv, const char *what,
                         struct cli_deployment *out);
/* The options cli_deployment_parse reads besides --name and --model (which
 * its callers list, as other kinds of theirs take them too). */
#define CLI_OPTS_DEPLOYMENT                                                  \
    {"--version", true, false}, {"--module", true, false},                   \
        {"--asm", true, false}, {"--gas", true, false},                      \
        {"--kind", true, true}, {"--above", true, true},                     \
        {"--below", true, true}, {"--label", true, true},                    \
        {"--replaces", true, false}, {"--start-height", true, false},         \
        {"--source", true, false}, {"--no-source", false, false},            \
        {"--source-map", true, false}, {"--language", true, false},          \
        {"--compiler", true, false}, {"--wcl", true, false}
void cli_deployment_free(struct cli_deployment *x);

/* Next nonce for the key's account, asked of the node. */
int cli_next_nonce(const char *address, const uint8_t addr[WITAN_ADDRESS_SIZE],
                   uint64_t *nonce);

/* --- strict arguments (cli/util.c) ----------------------------------------- */

/* An option a command takes: with a value or not, once or repeatable. */
struct cli_opt {
    const char *name;
    bool value;
    bool repeat;
};
#define CLI_OPT_COUNT_MAX 64
/* The options every command that talks to a node takes. */
#define CLI_OPTS_NODE                                                        \
    {"--node", true, false}, {"--home", true, false},                        \
        {"--tls-ca", true, false}, {"--tls-server-name", true, false}

/* The options every command that signs and submits a transaction takes
 * (cli_sign_and_submit), besides CLI_OPTS_NODE. */
#define CLI_OPTS_SIGN                                                        \
    {"--key", true, false}, {"--account", true, false},                      \
        {"--wait", false, false}, {"--json", false, false}

/*
 * Checks argv[first..] against `opts` (ended by a NULL name): every word
 * that starts with '-' is one of them, with its value when it takes one,
 * given at most once unless repeatable; at most positional_max other words.
 * Prints "witan <what>: ..." naming the bad word and returns 2; else 0.
 */
int cli_args_check(int argc, char **argv, int first,
                   const struct cli_opt *opts, int positional_max,
                   const char *what);
/* The index-th positional word of argv[first..] (skipping option values);
 * WITAN_ENOTFOUND. */
int cli_positional(int argc, char **argv, int first,
                   const struct cli_opt *opts, int index, const char **out);
/* Moves the first positional word of argv[first..] (as cli_positional
 * finds it) to argv[first], the words before it one place on, so that
 * code reading argv[first] finds it wherever it was given: options may
 * come before it. Nothing moves without one. */
void cli_positional_first(int argc, char **argv, int first,
                          const struct cli_opt *opts);
/* A decimal whole number of at most `max`; on error prints which flag and
 * value and returns 2. */
int cli_parse_u64(const char *what, const char *flag, const char *text,
                  uint64_t max, uint64_t *out);
/* Exactly `size` bytes as hex; on error prints and returns 2. */
int cli_parse_hash(const char *what, const char *flag, const char *text,
                   uint8_t *out, size_t size);
/* --cursor: the hex a previous page printed, at most `size` bytes (*len of
 * them); on error prints and returns 2. */
int cli_parse_cursor(const char *what, const char *text, uint8_t *out,
                     size_t size, size_t *len);

/* Value of --flag in argv, or NULL. */
const char *cli_flag(int argc, char **argv, const char *flag);
int cli_has_flag(int argc, char **argv, const char *flag);

/* --- progress of long work (cli/progress.c) ------------------------------ */

/* How often the line is redrawn on a terminal, and a plain line written
 * otherwise. */
#define CLI_PROGRESS_TTY_MS 250
#define CLI_PROGRESS_INTERVAL_MS 5000
#define CLI_PROGRESS_LINE_SIZE 256

struct cli_progress {
    const char *what, *unit; /* "audit verify", "blocks" */
    bool on, tty;
    double start_s, last_s;
    size_t drawn; /* characters of the line on the terminal */
};

/* Starts counting now; with `on` false nothing is ever shown. */
void cli_progress_start(struct cli_progress *p, const char *what,
                        const char *unit, bool on);
/* "witan WHAT: DONE of TOTAL UNIT; RATE UNIT/s, ETA N s" (TOTAL 0: not
 * known, no ETA), at most as often as the constants above allow unless
 * `final`. */
void cli_progress_show(struct cli_progress *p, uint64_t done, uint64_t total,
                       bool final);
/* Ends the terminal's line (before another message, and at the end). */
void cli_progress_break(struct cli_progress *p);
/* Writes one progress line on stderr: over the last on a terminal (tty;
 * *drawn is the length of what stands there), else as a plain line. */
void cli_progress_write(bool tty, size_t *drawn, const char *line);

/* --- re-verifying blocks (cli/verify_pipe.c) ---------------------------------- */

#include "ledger/ledger.h"

/* Blocks in a batch: the pool checks one batch's signatures while the
 * blocks of the batch before it are applied. Enough transactions for every
 * thread of an auditor's machine; and two batches are held at once, each
 * block at most WITAN_BLOCK_SIZE_MAX (decoded, and packed once to apply). */
#define CLI_VERIFY_BLOCKS_AHEAD 4

/* Where blocks come from. fetch gives block `height` with its certificate
 * and the source's roots (and a handle for release), or a WITAN_E* code;
 * it is asked for heights in increasing order, from one thread. */
struct cli_verify_source {
    int (*fetch)(void *ctx, uint64_t height, const Witan__BlockResponse **out,
                 void **handle);
    void (*release)(void *ctx, void *handle);
    void *ctx;
};

/* What a replay did, for people and benchmarks (never state). */
struct cli_verify_stats {
    uint64_t blocks, txs;
    uint64_t prechecked; /* blocks whose signatures the pool checked first */
    uint64_t fetch_ns;   /* asking the source */
    uint64_t wait_ns;    /* waiting for (or helping with) signatures */
    uint64_t apply_ns;   /* ledger_block_apply and the roots */
};

/* The online CPUs, at least 1 and at most WITAN_POOL_THREADS_MAX. */
unsigned cli_verify_threads_default(void);

/*
 * Applies blocks tip+1 .. height from `src` to the auditor's ledger, each
 * with ledger_block_apply, and holds each one's state and receipts roots to
 * the source's. With a pool of more than one thread, the pool runs
 * ledger_tx_decode's check, signature included, on the transactions of the
 * blocks ahead while this thread applies; a block they all pass is applied
 * with verify_signatures false, any other with it true, so output and state
 * never depend on the thread count (NULL or one thread: every signature is
 * checked as its block applies). The pool must not be the one `mine` was
 * given (ledger_set_pool): a loop stays open on it while blocks apply.
 * Returns 0, or 1 with the first failure printed on stderr (the block and
 * the ledger's reason, or the two roots that differ). `progress` shows
 * blocks/s and the ETA on stderr (cli_progress: a line redrawn on a
 * terminal, plain lines otherwise).
 */
int cli_verify_replay(ledger *mine, const struct cli_verify_source *src,
                      uint64_t height, witan_pool *pool, bool progress,
                      struct cli_verify_stats *stats);

#endif
