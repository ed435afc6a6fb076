/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan audit prove / check / head / consistency: portable proofs and
 * signed history heads (spec/proofs.md). `prove` asks
 * a node for the proof of a transaction or of a record (and, for a decision
 * with --evidence, of every link of its chain of evidence) and writes
 * proof.json; `check` verifies such a file with nothing but the genesis,
 * and says in one sentence what it proved.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ledger/ledger.h"

static const struct cli_opt prove_opts[] = {
    CLI_OPTS_NODE,
    {"--attestation", true, false},
    {"--prediction", true, false},
    {"--decision", true, false},
    {"--evidence", false, false},
    {"--out", true, false},
    {"--json", false, false},
    {NULL, false, false}};

static const struct cli_opt check_opts[] = {
    {"--genesis", true, false}, {"--sets", true, false},
    {"--json", false, false}, {NULL, false, false}};

/* The validator-set changes a head is checked against: those of --sets
 * FILE (a set-chain file, or a proof of version 2), or none. Exit
 * status; *changes is freed with ledger_validator_changes_free. */
static int sets_file(const char *cmd, const char *flag, int argc, char **argv,
                     Witan__ValidatorChange ***changes, size_t *count)
{
    *changes = NULL;
    *count = 0;
    const char *path = cli_flag(argc, argv, flag);
    if (!path)
        return 0;
    char *text, why[LEDGER_WHY_SIZE];
    size_t n;
    int err = witan_read_file(path, LEDGER_PROOF_FILE_SIZE_MAX, &text, &n);
    if (!err)
        err = ledger_validator_changes_from_json(text, n, changes, count, why,
                                                 sizeof why);
    else
        snprintf(why, sizeof why, "%s", witan_err_message(err));
    if (err) {
        fprintf(stderr, "witan %s: %s: %s\n", cmd, path, why);
        ledger_validator_changes_free(*changes, *count);
        *changes = NULL;
        *count = 0;
        free(text);
        return 1;
    }
    free(text);
    return 0;
}

/* --json: each verdict as {"file", "holds", "message"} and a head as
 * {"note"} (set once per run, by cli_audit_proof). */
static bool as_json;

/* A verdict on `path` for people ("PATH: does NOT hold: WHY", or what it
 * proves), or with --json as one object. 0 when it holds, else 1. */
static int verdict(const char *path, bool holds, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int verdict(const char *path, bool holds, const char *fmt, ...)
{
    char message[LEDGER_WHY_SIZE + 1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (as_json) {
        printf("{\"file\":");
        witan_json_write_string(stdout, path);
        printf(",\"holds\":%s,\"message\":", holds ? "true" : "false");
        witan_json_write_string(stdout, message);
        printf("}\n");
    } else if (holds) {
        printf("%s\n", message);
    } else {
        printf("%s: does NOT hold: %s\n", path, message);
    }
    return holds ? 0 : 1;
}

/* Asks the node for one proof. Exit status. */
static int fetch(const char *address, const Witan__ProofRequest *q,
                 Witan__Response **resp)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PROOF;
    req.proof = (Witan__ProofRequest *)q;
    if (cli_call(address, &req, 30000, resp))
        return 1;
    if (cli_response_error("audit prove", *resp)) {
        witan__response__free_unpacked(*resp, NULL);
        return 1;
    }
    if ((*resp)->kind_case != WITAN__RESPONSE__KIND_PROOF ||
        !(*resp)->proof->proof) {
        fprintf(stderr, "witan audit prove: the node answered with another "
                        "kind of response\n");
        witan__response__free_unpacked(*resp, NULL);
        return 1;
    }
    return 0;
}

/* Collects proofs of a decision's chain of evidence: the decision, its
 * prediction, the contract's deployment, the model's registration and
 * every input attestation's transaction (each once). */
struct bundle {
    Witan__Response *resp[LEDGER_EVIDENCE_PROOF_COUNT_MAX];
    const Witan__Proof *proofs[LEDGER_EVIDENCE_PROOF_COUNT_MAX];
    size_t count;
    bool lean; /* proofs without their transactions' envelopes */
};

static bool holds_tx(const struct bundle *b, const ProtobufCBinaryData *tx)
{
    for (size_t i = 0; i < b->count; i++) {
        const Witan__Proof *p = b->proofs[i];
        Witan__Receipt *r =
            witan__receipt__unpack(NULL, p->receipt.len, p->receipt.data);
        /* Any proof proves its transaction, a record's too. */
        bool same = r && r->tx_hash.len == tx->len &&
                    memcmp(r->tx_hash.data, tx->data, tx->len) == 0;
        if (r)
            witan__receipt__free_unpacked(r, NULL);
        if (same)
            return true;
    }
    return false;
}

static int add(const char *address, struct bundle *b,
               const Witan__ProofRequest *q)
{
    if (b->count == LEDGER_EVIDENCE_PROOF_COUNT_MAX) {
        fprintf(stderr, "witan audit prove: the evidence needs more than %d "
                        "proofs\n",
                LEDGER_EVIDENCE_PROOF_COUNT_MAX);
        return 1;
    }
    /* In evidence the links are commitments: each transaction's hash is
     * what the records name, and its receipt proves it was committed. */
    Witan__ProofRequest lean = *q;
    lean.without_transaction = b->lean;
    if (fetch(address, &lean, &b->resp[b->count]))
        return 1;
    b->proofs[b->count] = b->resp[b->count]->proof->proof;
    b->count++;
    return 0;
}

static int add_tx(const char *address, struct bundle *b,
                  const ProtobufCBinaryData *tx)
{
    if (tx->len != WITAN_HASH_SIZE || holds_tx(b, tx))
        return 0;
    Witan__ProofRequest q;
    witan__proof_request__init(&q);
    q.target_case = WITAN__PROOF_REQUEST__TARGET_TX_HASH;
    q.tx_hash = *tx;
    return add(address, b, &q);
}

static int evidence(const char *address, struct bundle *b)
{
    const Witan__StateRecord *rec = b->proofs[0]->record;
    Witan__Decision *d =
        witan__decision__unpack(NULL, rec->value.len, rec->value.data);
    if (!d) {
        fprintf(stderr, "witan audit prove: the decision does not decode\n");
        return 1;
    }
    int rc = add_tx(address, b, &d->contract);
    Witan__PredictionRecord *pr = NULL;
    if (!rc && d->prediction.len) {
        Witan__ProofRequest q;
        witan__proof_request__init(&q);
        q.target_case = WITAN__PROOF_REQUEST__TARGET_PREDICTION_KEY;
        q.prediction_key = d->prediction;
        rc = add(address, b, &q);
        if (!rc) {
            const Witan__StateRecord *pv = b->proofs[b->count - 1]->record;
            pr = witan__prediction_record__unpack(NULL, pv->value.len,
                                                  pv->value.data);
            if (!pr) {
                fprintf(stderr, "witan audit prove: the prediction does not "
                                "decode\n");
                rc = 1;
            }
        }
    }
    if (!rc && pr)
        rc = add_tx(address, b, &pr->model_tx);
    for (size_t i = 0; !rc && pr && i < pr->n_input_txs; i++)
        rc = add_tx(address, b, &pr->input_txs[i]);
    if (pr)
        witan__prediction_record__free_unpacked(pr, NULL);
    witan__decision__free_unpacked(d, NULL);
    return rc;
}

static int write_out(const char *path, const char *text, size_t size)
{
    if (!path)
        return fwrite(text, 1, size, stdout) == size ? 0 : 1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fwrite(text, 1, size, f) != size || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static int cmd_prove(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, prove_opts, 1, "audit prove"))
        return 2;
    const char *tx_hex = NULL;
    cli_positional(argc, argv, 2, prove_opts, 0, &tx_hex);
    static const char *const flags[] = {"--attestation", "--prediction",
                                        "--decision"};
    const char *flag = NULL, *key_hex = NULL;
    int targets = tx_hex != NULL;
    for (size_t i = 0; i < 3; i++)
        if (cli_flag(argc, argv, flags[i])) {
            flag = flags[i];
            key_hex = cli_flag(argc, argv, flags[i]);
            targets++;
        }
    bool with_evidence = cli_has_flag(argc, argv, "--evidence");
    if (targets != 1 || (with_evidence && (!flag || flag[2] != 'd'))) {
        fprintf(stderr, "witan audit prove: name one transaction hash, or "
                        "one --attestation, --prediction or --decision key "
                        "(--evidence goes with --decision)\n");
        return 2;
    }
    uint8_t key[WITAN_STORE_KEY_SIZE_MAX];
    size_t key_size = 0;
    const char *hex = tx_hex ? tx_hex : key_hex;
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n / 2 > sizeof key ||
        witan_hex_decode(hex, key, n / 2) ||
        (tx_hex && n != 2 * WITAN_HASH_SIZE)) {
        fprintf(stderr, "witan audit prove: '%s' is not %s in hex\n", hex,
                tx_hex ? "a transaction hash (64 digits)" : "a record key");
        return 2;
    }
    key_size = n / 2;
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__ProofRequest q;
    witan__proof_request__init(&q);
    ProtobufCBinaryData b = {key_size, key};
    if (tx_hex) {
        q.target_case = WITAN__PROOF_REQUEST__TARGET_TX_HASH;
        q.tx_hash = b;
    } else if (flag[2] == 'a') {
        q.target_case = WITAN__PROOF_REQUEST__TARGET_ATTESTATION_KEY;
        q.attestation_key = b;
    } else if (flag[2] == 'p') {
        q.target_case = WITAN__PROOF_REQUEST__TARGET_PREDICTION_KEY;
        q.prediction_key = b;
    } else {
        q.target_case = WITAN__PROOF_REQUEST__TARGET_DECISION_KEY;
        q.decision_key = b;
    }
    struct bundle bun;
    memset(&bun, 0, sizeof bun);
    bun.lean = with_evidence;
    int rc = add(address, &bun, &q);
    if (!rc && with_evidence)
        rc = evidence(address, &bun);
    char *text = NULL;
    size_t size = 0;
    int err = 0;
    if (!rc) {
        err = with_evidence
                  ? ledger_evidence_to_json(bun.proofs, bun.count, &text, &size)
                  : ledger_proof_to_json(bun.proofs[0], &text, &size);
        if (err)
            rc = cli_fail("audit prove", err);
    }
    const char *out = cli_flag(argc, argv, "--out");
    if (!rc)
        rc = write_out(out, text, size);
    if (!rc && as_json && out) { /* the proof went to the file */
        printf("{\"out\":");
        witan_json_write_string(stdout, out);
        printf(",\"bytes\":%zu}\n", size);
    }
    free(text);
    for (size_t i = 0; i < bun.count; i++)
        witan__response__free_unpacked(bun.resp[i], NULL);
    return rc;
}

/* Checks a signed head; prints what it holds. Exit status. */
static int check_head(const Witan__Genesis *g,
                      Witan__ValidatorChange *const *changes, size_t count,
                      const char *path, const char *note, size_t size)
{
    uint64_t tree;
    uint8_t root[WITAN_HASH_SIZE];
    uint32_t signers;
    char why[LEDGER_WHY_SIZE], hex[65];
    if (ledger_head_check(g, changes, count, note, size, &tree, root,
                          &signers, why, sizeof why))
        return verdict(path, false, "%s", why);
    witan_hex_encode(root, WITAN_HASH_SIZE, hex);
    if (count)
        return verdict(path, true,
                       "The history of chain %s at %llu blocks has root %s, "
                       "signed by %u validators of the set in force at that "
                       "size (followed from the genesis through %zu set "
                       "change(s) given).",
                       g->chain_id, (unsigned long long)tree, hex, signers,
                       count);
    return verdict(path, true,
                   "The history of chain %s at %llu blocks has root %s, "
                   "signed by %u of its %zu validators.",
                   g->chain_id, (unsigned long long)tree, hex, signers,
                   g->n_validators);
}

static const struct cli_opt head_opts[] = {
    CLI_OPTS_NODE, {"--size", true, false}, {"--out", true, false},
    {"--sets-out", true, false}, {"--json", false, false},
    {NULL, false, false}};

static int cmd_head(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, head_opts, 0, "audit head"))
        return 2;
    uint64_t size = 0;
    const char *sz = cli_flag(argc, argv, "--size");
    if (sz && cli_parse_u64("audit head", "--size", sz, UINT64_MAX, &size))
        return 2;
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__HeadRequest q = WITAN__HEAD_REQUEST__INIT;
    q.size = size;
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_HEAD;
    req.head = &q;
    Witan__Response *resp;
    if (cli_call(address, &req, 30000, &resp))
        return 1;
    if (cli_response_error("audit head", resp)) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    const char *out = cli_flag(argc, argv, "--out");
    int rc = 1;
    if (resp->kind_case == WITAN__RESPONSE__KIND_HEAD && as_json && !out) {
        printf("{\"note\":"); /* the signed note's text, as a string */
        witan_json_write_string(stdout, resp->head->note);
        printf("}\n");
        rc = 0;
    } else if (resp->kind_case == WITAN__RESPONSE__KIND_HEAD) {
        rc = write_out(out, resp->head->note, strlen(resp->head->note));
        if (!rc && as_json) {
            printf("{\"out\":");
            witan_json_write_string(stdout, out);
            printf("}\n");
        }
    }
    /* The set chain it is checked against, beside it (proofs.md). */
    const char *sets_out = cli_flag(argc, argv, "--sets-out");
    if (!rc && sets_out) {
        char *text = NULL;
        size_t n = 0;
        int err = ledger_validator_changes_to_json(
            resp->head->validator_changes, resp->head->n_validator_changes,
            &text, &n);
        rc = err ? cli_fail("audit head", err) : write_out(sets_out, text, n);
        free(text);
    }
    witan__response__free_unpacked(resp, NULL);
    return rc;
}

static const struct cli_opt consistency_opts[] = {
    CLI_OPTS_NODE, {"--genesis", true, false}, {"--sets", true, false},
    {"--json", false, false}, {"--old-sets", true, false},
    {NULL, false, false}};

/* A signed head file, checked: its size and root. Exit status. */
static int head_file(const Witan__Genesis *g,
                     Witan__ValidatorChange *const *changes, size_t count,
                     const char *path, uint64_t *size,
                     uint8_t root[WITAN_HASH_SIZE])
{
    char *text, why[LEDGER_WHY_SIZE];
    size_t n;
    uint32_t signers;
    int err = witan_read_file(path, LEDGER_HEAD_SIZE_MAX, &text, &n);
    if (err) {
        fprintf(stderr, "witan audit consistency: %s: %s\n", path,
                witan_err_message(err));
        return 1;
    }
    err = ledger_head_check(g, changes, count, text, n, size, root, &signers,
                            why, sizeof why);
    free(text);
    return err ? verdict(path, false, "%s", why) : 0;
}

static int cmd_consistency(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, consistency_opts, 2,
                       "audit consistency"))
        return 2;
    const char *old_path = NULL, *new_path = NULL;
    cli_positional(argc, argv, 2, consistency_opts, 0, &old_path);
    cli_positional(argc, argv, 2, consistency_opts, 1, &new_path);
    const char *gpath = cli_flag(argc, argv, "--genesis");
    if (!old_path || !new_path || !gpath) {
        fprintf(stderr, "witan audit consistency: two signed head files (the "
                        "older first) and --genesis FILE are required\n");
        return 2;
    }
    char why[LEDGER_WHY_SIZE];
    Witan__Genesis *g;
    if (ledger_genesis_load(gpath, &g, why, sizeof why)) {
        fprintf(stderr, "witan audit consistency: %s\n", why);
        return 1;
    }
    uint64_t old_size, new_size;
    uint8_t old_root[WITAN_HASH_SIZE], new_root[WITAN_HASH_SIZE];
    Witan__ValidatorChange **changes, **old_changes = NULL;
    size_t change_count, old_count = 0;
    bool two = cli_flag(argc, argv, "--old-sets") != NULL;
    int rc = sets_file("audit consistency", "--sets", argc, argv, &changes,
                       &change_count);
    if (!rc && two)
        rc = sets_file("audit consistency", "--old-sets", argc, argv,
                       &old_changes, &old_count);
    if (!rc)
        rc = head_file(g, two ? old_changes : changes,
                       two ? old_count : change_count, old_path, &old_size,
                       old_root);
    if (!rc)
        rc = head_file(g, changes, change_count, new_path, &new_size,
                       new_root);
    if (!rc && two) {
        /* Both chains hold, so a disagreement is signed on both sides
         * (proofs.md, "Comparing set chains"): no node is asked. */
        bool differs;
        char said[4 * LEDGER_WHY_SIZE];
        if (ledger_set_chains_compare(g, old_changes, old_count, old_size,
                                      changes, change_count, new_size,
                                      &differs, said, sizeof said, why,
                                      sizeof why)) {
            rc = verdict(new_path, false, "the set chains: %s", why);
        } else if (differs) {
            rc = verdict(new_path, false,
                         "%s and %s do NOT hold together: %s (A: --old-sets, "
                         "B: --sets)",
                         old_path, new_path, said);
        }
    }
    ledger_validator_changes_free(changes, change_count);
    ledger_validator_changes_free(old_changes, old_count);
    if (!rc && old_size > new_size) {
        fprintf(stderr, "witan audit consistency: %s (%llu blocks) is newer "
                        "than %s (%llu): give the older first\n",
                old_path, (unsigned long long)old_size, new_path,
                (unsigned long long)new_size);
        rc = 2;
    }
    Witan__Response *resp = NULL;
    if (!rc) {
        char address[256];
        cli_node_connect(argc, argv, address, sizeof address);
        Witan__ConsistencyRequest q = WITAN__CONSISTENCY_REQUEST__INIT;
        q.from = old_size;
        q.to = new_size;
        Witan__Request req = WITAN__REQUEST__INIT;
        req.kind_case = WITAN__REQUEST__KIND_CONSISTENCY;
        req.consistency = &q;
        if (cli_call(address, &req, 60000, &resp))
            rc = 1;
        else if (cli_response_error("audit consistency", resp) ||
                 resp->kind_case != WITAN__RESPONSE__KIND_CONSISTENCY)
            rc = 1;
    }
    if (!rc) {
        /* The node's proof is checked against the roots the validators
         * signed, never against the roots the node states. */
        const Witan__ConsistencyResponse *c = resp->consistency;
        wcrypto_digest proof[WITAN_MERKLE_CONSISTENCY_COUNT_MAX];
        bool shape = c->n_proof <= WITAN_MERKLE_CONSISTENCY_COUNT_MAX;
        for (size_t i = 0; shape && i < c->n_proof; i++) {
            shape = c->proof[i].len == WITAN_HASH_SIZE;
            if (shape)
                memcpy(proof[i], c->proof[i].data, WITAN_HASH_SIZE);
        }
        bool same = old_size == new_size &&
                    memcmp(old_root, new_root, WITAN_HASH_SIZE) == 0;
        if (same || (shape && old_size < new_size &&
                     wcrypto_merkle_consistency_verify(
                         old_size, new_size, old_root, new_root,
                         (const wcrypto_digest *)proof, c->n_proof) == 0)) {
            verdict(new_path, true,
                    "The history of %llu blocks signed in %s is a prefix of "
                    "the history of %llu blocks signed in %s (%zu hashes).",
                    (unsigned long long)old_size, old_path,
                    (unsigned long long)new_size, new_path, c->n_proof);
        } else {
            rc = verdict(new_path, false,
                         "%s and %s do NOT hold together: the history signed "
                         "at %llu blocks is not a prefix of the one signed at "
                         "%llu (a fork, or a proof from another history)",
                         old_path, new_path, (unsigned long long)old_size,
                         (unsigned long long)new_size);
        }
    }
    if (resp)
        witan__response__free_unpacked(resp, NULL);
    ledger_genesis_free(g);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, check_opts, 1, "audit check"))
        return 2;
    const char *path = NULL;
    cli_positional(argc, argv, 2, check_opts, 0, &path);
    const char *gpath = cli_flag(argc, argv, "--genesis");
    if (!path || !gpath) {
        fprintf(stderr, "witan audit check: a proof file and --genesis FILE "
                        "are required\n");
        return 2;
    }
    char why[LEDGER_WHY_SIZE];
    Witan__Genesis *g;
    if (ledger_genesis_load(gpath, &g, why, sizeof why)) {
        fprintf(stderr, "witan audit check: %s\n", why);
        return 1;
    }
    char *text;
    size_t size;
    int err = witan_read_file(path, LEDGER_PROOF_FILE_SIZE_MAX, &text, &size);
    if (err) {
        fprintf(stderr, "witan audit check: %s: %s\n", path,
                witan_err_message(err));
        ledger_genesis_free(g);
        return 1;
    }
    if (size && text[0] != '{') { /* a signed head, not a proof */
        Witan__ValidatorChange **changes;
        size_t count;
        int rc = sets_file("audit check", "--sets", argc, argv, &changes, &count);
        if (!rc)
            rc = check_head(g, changes, count, path, text, size);
        ledger_validator_changes_free(changes, count);
        free(text);
        ledger_genesis_free(g);
        return rc;
    }
    Witan__Proof **proofs = NULL;
    size_t count = 0;
    char said[1024];
    err = ledger_evidence_from_json(text, size, &proofs, &count, why,
                                    sizeof why);
    if (!err)
        err = ledger_evidence_check(g, proofs, count, said, sizeof said, why,
                                    sizeof why);
    free(text);
    for (size_t i = 0; i < count; i++)
        witan__proof__free_unpacked(proofs[i], NULL);
    free(proofs);
    ledger_genesis_free(g);
    return err ? verdict(path, false, "%s", why)
               : verdict(path, true, "%s", said);
}

int cli_audit_proof(int argc, char **argv)
{
    as_json = cli_has_flag(argc, argv, "--json");
    if (strcmp(argv[1], "prove") == 0)
        return cmd_prove(argc, argv);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(argv[1], "head") == 0)
        return cmd_head(argc, argv);
    if (strcmp(argv[1], "consistency") == 0)
        return cmd_consistency(argc, argv);
    return -1;
}
