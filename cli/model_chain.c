/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Models on chain from the command line: register a model with its input
 * bindings and triggers, list and show registered models, ask for a score,
 * post a prediction computed off chain, and list the model-output records
 * (each with the transactions that put its model and inputs on chain).
 */
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "inference/inference.h"
#include "ledger/ledger.h"
#include "render/render.h"

static int call_ok(const char *address, Witan__Request *req, const char *what,
                   Witan__Response **resp)
{
    if (cli_call(address, req, 30000, resp))
        return 1;
    if (cli_response_error(what, *resp)) {
        witan__response__free_unpacked(*resp, NULL);
        *resp = NULL;
        return 1;
    }
    return 0;
}

int cli_sign_submit(int argc, char **argv, Witan__TxBody *body, bool wait,
                    char *address, size_t address_size,
                    uint8_t hash[WITAN_HASH_SIZE], Witan__Response **out)
{
    *out = NULL;
    cli_node_connect(argc, argv, address, address_size);
    const char *keyfile = cli_flag(argc, argv, "--key");
    if (!keyfile) {
        fprintf(stderr, "witan: --key FILE is required to sign\n");
        return 2;
    }
    wcrypto_keypair kp;
    int err = wcrypto_keyfile_read(keyfile, &kp);
    if (err) {
        fprintf(stderr, "witan: %s: %s%s\n", keyfile, witan_err_message(err),
                err == WITAN_EKEYPERM ? " (chmod 600 it)" : "");
        return 1;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &st;
    Witan__Response *resp = NULL;
    uint8_t sender[WITAN_ADDRESS_SIZE];
    int rc = cli_sender(argc, argv, &kp, sender);
    if (rc) {
        wcrypto_keypair_wipe(&kp);
        return rc;
    }
    rc = call_ok(address, &req, "status", &resp);
    for (int attempt = 0; !rc; attempt++) {
        uint64_t nonce;
        if (cli_next_nonce(address, sender, &nonce)) {
            rc = 1;
            break;
        }
        body->chain_id = resp->status->chain_id;
        body->sender = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, sender};
        body->nonce = nonce;
        uint8_t *env;
        size_t env_size;
        err = cli_sign_tx(body, &kp, &env, &env_size, hash);
        /* The body borrowed the chain id from the response. */
        body->chain_id = (char *)protobuf_c_empty_string;
        body->sender = (ProtobufCBinaryData){0, NULL};
        if (err) {
            rc = cli_fail("signing", err);
            break;
        }
        bool last = attempt == CLI_NONCE_RETRY_MAX;
        rc = cli_submit_wait(address, env, env_size, hash, wait, !last, out);
        free(env);
        if (rc != CLI_NONCE_TAKEN)
            break;
        /* The node has applied the block that took the nonce (or it would
         * not know), so it now knows a later one. */
        fprintf(stderr, "witan: nonce %llu was taken by another transaction "
                        "of this key; signing again\n",
                (unsigned long long)nonce);
        rc = 0;
    }
    if (resp)
        witan__response__free_unpacked(resp, NULL);
    wcrypto_keypair_wipe(&kp);
    return rc;
}

int cli_sign_and_submit(int argc, char **argv, Witan__TxBody *body)
{
    char address[256];
    uint8_t hash[WITAN_HASH_SIZE];
    bool wait = cli_has_flag(argc, argv, "--wait");
    Witan__Response *tx;
    int rc = cli_sign_submit(argc, argv, body, wait, address, sizeof address,
                             hash, &tx);
    if (rc)
        return rc;
    bool json = cli_has_flag(argc, argv, "--json");
    if (!wait) {
        if (json)
            return cli_print_tx_json(hash, NULL, NULL);
        char hex[2 * WITAN_HASH_SIZE + 1];
        witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
        printf("submitted %s\n", hex);
        return 0;
    }
    if (json) {
        rc = cli_print_tx_json(hash, tx->tx, NULL);
        rc = rc ? rc : cli_tx_ok(tx->tx);
    } else {
        rc = cli_print_settled(hash, tx->tx);
    }
    witan__response__free_unpacked(tx, NULL);
    return rc;
}

/* A whole decimal number, or false. */
static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max)
        return false;
    *out = v;
    return true;
}

/* "feed=F,subject=S,value=V[,window=K][,max_age_ms=M]" or
 * "feed=F,subject=S,year" into a binding; strings point into `spec`. */
static int parse_binding(char *spec, Witan__ModelInput *b)
{
    witan__model_input__init(b);
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        uint64_t v;
        if (!eq) {
            if (strcmp(tok, "year") != 0)
                return WITAN_EINVAL;
            b->observed_year = true;
            continue;
        }
        *eq++ = '\0';
        if (strcmp(tok, "feed") == 0)
            b->feed = eq;
        else if (strcmp(tok, "subject") == 0)
            b->subject = eq;
        else if (strcmp(tok, "value") == 0)
            b->value = eq;
        else if (strcmp(tok, "window") == 0 &&
                 parse_count(eq, WITAN_MODEL_WINDOW_MAX, &v))
            b->window = (uint32_t)v;
        else if (strcmp(tok, "max_age_ms") == 0 &&
                 parse_count(eq, INT64_MAX, &v))
            b->max_age_ms = (int64_t)v;
        else
            return WITAN_EINVAL;
    }
    return b->feed[0] && b->subject[0] ? WITAN_OK : WITAN_EINVAL;
}

/* "feed=F,value=V[,horizon_ms=H][,output=K][,window=N]" into a target;
 * strings point into `spec`. */
static int parse_target(char *spec, Witan__ModelTarget *t)
{
    witan__model_target__init(t);
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        uint64_t v;
        if (!eq)
            return WITAN_EINVAL;
        *eq++ = '\0';
        if (strcmp(tok, "feed") == 0)
            t->feed = eq;
        else if (strcmp(tok, "subject") == 0)
            t->subject = eq;
        else if (strcmp(tok, "value") == 0)
            t->value = eq;
        else if (strcmp(tok, "horizon_ms") == 0 &&
                 parse_count(eq, WITAN_TARGET_HORIZON_MS_MAX, &v))
            t->horizon_ms = (int64_t)v;
        else if (strcmp(tok, "output") == 0 &&
                 parse_count(eq, WITAN_MODEL_OUTPUT_COUNT_MAX - 1, &v))
            t->output = (uint32_t)v;
        else if (strcmp(tok, "window") == 0 &&
                 parse_count(eq, WITAN_SCORECARD_WINDOW_MAX, &v))
            t->window = (uint32_t)v;
        else
            return WITAN_EINVAL;
    }
    return t->feed[0] && t->value[0] ? WITAN_OK : WITAN_EINVAL;
}

static int cmd_register(int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "witan model register: a MODEL.bin file is required\n");
        return 2;
    }
    const char *name = cli_flag(argc, argv, "--name");
    const char *version = cli_flag(argc, argv, "--version");
    uint64_t version_number = 1;
    if (version && cli_parse_u64("model register", "--version", version,
                                 UINT32_MAX, &version_number))
        return 2;
    if (!name) {
        fprintf(stderr, "witan model register: --name is required\n");
        return 2;
    }
    char *bytes;
    size_t size;
    int err = witan_read_file(argv[2], WITAN_MODEL_SIZE_MAX, &bytes, &size);
    if (err) {
        fprintf(stderr, "witan model register: %s: %s\n", argv[2],
                witan_err_message(err));
        return 1;
    }
    Witan__ModelInput bindings[64], *bptr[64];
    Witan__ModelTrigger triggers[WITAN_MODEL_TRIGGER_COUNT_MAX],
        *tptr[WITAN_MODEL_TRIGGER_COUNT_MAX];
    char specs[64][512], target_spec[512];
    Witan__ModelTarget target;
    bool has_target = false;
    size_t nb = 0, nt = 0;
    int rc = 0;
    for (int i = 2; i + 1 < argc && !rc; i++) {
        if (strcmp(argv[i], "--input") == 0) {
            if (nb == 64) {
                rc = 2;
                break;
            }
            snprintf(specs[nb], sizeof specs[nb], "%s", argv[i + 1]);
            if (parse_binding(specs[nb], &bindings[nb])) {
                fprintf(stderr,
                        "witan model register: bad --input '%s' (feed=F,"
                        "subject=S,value=V[,window=K][,max_age_ms=M] or "
                        "feed=F,subject=S,year)\n",
                        argv[i + 1]);
                rc = 2;
            }
            bptr[nb] = &bindings[nb];
            nb++;
        } else if (strcmp(argv[i], "--target") == 0) {
            snprintf(target_spec, sizeof target_spec, "%s", argv[i + 1]);
            if (has_target || parse_target(target_spec, &target)) {
                fprintf(stderr,
                        "witan model register: bad --target '%s' (once: "
                        "feed=F,value=V[,subject=S][,horizon_ms=H][,output=K]"
                        "[,window=N])\n",
                        argv[i + 1]);
                rc = 2;
            }
            has_target = true;
        } else if (strcmp(argv[i], "--trigger") == 0) {
            char *colon = strchr(argv[i + 1], ':');
            if (!colon || nt == WITAN_MODEL_TRIGGER_COUNT_MAX) {
                fprintf(stderr, "witan model register: --trigger takes "
                                "FEED:SUBJECT\n");
                rc = 2;
                break;
            }
            *colon = '\0';
            witan__model_trigger__init(&triggers[nt]);
            triggers[nt].feed = argv[i + 1];
            triggers[nt].subject = colon + 1;
            tptr[nt] = &triggers[nt];
            nt++;
        }
    }
    if (!rc) {
        Witan__RegisterModel r = WITAN__REGISTER_MODEL__INIT;
        r.name = (char *)name;
        r.version = (uint32_t)version_number;
        r.model = (ProtobufCBinaryData){size, (uint8_t *)bytes};
        r.n_inputs = nb;
        r.inputs = bptr;
        r.n_triggers = nt;
        r.triggers = tptr;
        r.allow_extrapolation =
            cli_has_flag(argc, argv, "--allow-extrapolation");
        r.target = has_target ? &target : NULL;
        Witan__TxBody body = WITAN__TX_BODY__INIT;
        body.payload_case = WITAN__TX_BODY__PAYLOAD_REGISTER_MODEL;
        body.register_model = &r;
        uint8_t hash[WITAN_HASH_SIZE];
        char hex[65];
        wcrypto_hash_tagged("witan/model/v1", bytes, size, hash);
        witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
        if (!cli_has_flag(argc, argv, "--json")) /* JSON: one document */
            printf("model %s\n", hex);
        rc = cli_sign_and_submit(argc, argv, &body);
    }
    free(bytes);
    return rc;
}

/* "name=decimal,name=decimal" or "decimal,decimal" into NamedValues. */
static int parse_values(const char *text, Witan__NamedValue *v,
                        Witan__NamedValue **ptr, char (*names)[65],
                        size_t max, size_t *count)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", text);
    *count = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*count == max)
            return WITAN_ELIMIT;
        witan__named_value__init(&v[*count]);
        char *eq = strchr(tok, '=');
        snprintf(names[*count], 65, "%.*s", eq ? (int)(eq - tok) : 0, tok);
        v[*count].name = names[*count];
        if (cli_parse_decimal(eq ? eq + 1 : tok, &v[*count].mantissa,
                              &v[*count].scale))
            return WITAN_EINVAL;
        ptr[*count] = &v[*count];
        (*count)++;
    }
    return WITAN_OK;
}

#define VALUES_MAX 256

static int cmd_ask(int argc, char **argv)
{
    uint8_t hash[WITAN_HASH_SIZE];
    if (argc < 3 || witan_hex_decode(argv[2], hash, WITAN_HASH_SIZE)) {
        fprintf(stderr, "witan model ask: a 64-hex-digit model hash is "
                        "required\n");
        return 2;
    }
    static Witan__NamedValue v[VALUES_MAX];
    static Witan__NamedValue *ptr[VALUES_MAX];
    static char names[VALUES_MAX][65];
    size_t n = 0;
    const char *input = cli_flag(argc, argv, "--input");
    if (input && parse_values(input, v, ptr, names, VALUES_MAX, &n)) {
        fprintf(stderr, "witan model ask: --input takes decimals v1,v2,...\n");
        return 2;
    }
    Witan__Score s = WITAN__SCORE__INIT;
    s.model_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    s.n_inputs = n;
    s.inputs = ptr;
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_SCORE;
    body.score = &s;
    return cli_sign_and_submit(argc, argv, &body);
}

static int cmd_post(int argc, char **argv)
{
    uint8_t hash[WITAN_HASH_SIZE];
    const char *outputs = cli_flag(argc, argv, "--output");
    if (argc < 3 || witan_hex_decode(argv[2], hash, WITAN_HASH_SIZE) ||
        !outputs) {
        fprintf(stderr, "witan model post: a model hash and --output "
                        "name=v,... are required\n");
        return 2;
    }
    static Witan__NamedValue iv[VALUES_MAX], ov[VALUES_MAX];
    static Witan__NamedValue *iptr[VALUES_MAX], *optr[VALUES_MAX];
    static char inames[VALUES_MAX][65], onames[VALUES_MAX][65];
    static uint8_t txs[VALUES_MAX][32];
    static ProtobufCBinaryData txp[VALUES_MAX];
    size_t ni = 0, no = 0, nt = 0;
    const char *inputs = cli_flag(argc, argv, "--input");
    if ((inputs && parse_values(inputs, iv, iptr, inames, VALUES_MAX, &ni)) ||
        parse_values(outputs, ov, optr, onames, VALUES_MAX, &no)) {
        fprintf(stderr, "witan model post: values are name=decimal\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], "--input-tx") == 0) {
            if (nt == VALUES_MAX || witan_hex_decode(argv[i + 1], txs[nt], 32)) {
                fprintf(stderr, "witan model post: --input-tx takes a "
                                "transaction hash\n");
                return 2;
            }
            txp[nt] = (ProtobufCBinaryData){WITAN_HASH_SIZE, txs[nt]};
            nt++;
        }
    Witan__PostPrediction p = WITAN__POST_PREDICTION__INIT;
    p.model_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    p.n_inputs = ni;
    p.inputs = iptr;
    p.n_outputs = no;
    p.outputs = optr;
    p.n_input_txs = nt;
    p.input_txs = txp;
    Witan__TxBody body = WITAN__TX_BODY__INIT;
    body.payload_case = WITAN__TX_BODY__PAYLOAD_POST_PREDICTION;
    body.post_prediction = &p;
    return cli_sign_and_submit(argc, argv, &body);
}

static void print_binding(const Witan__ModelInput *b)
{
    if (b->observed_year)
        printf("    year of %s/%s", b->feed, b->subject);
    else
        printf("    %s of %s/%s", b->value, b->feed, b->subject);
    if (b->window > 1)
        printf(", last %u", b->window);
    if (b->max_age_ms)
        printf(", at most %lld ms old", (long long)b->max_age_ms);
    printf("\n");
}

static int cmd_list(int argc, char **argv, const uint8_t *one)
{
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__ModelsRequest mr = WITAN__MODELS_REQUEST__INIT;
    if (one)
        mr.hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)one};
    req.kind_case = WITAN__REQUEST__KIND_MODELS;
    req.models = &mr;
    Witan__Response *resp;
    if (call_ok(address, &req, "models", &resp))
        return 1;
    if (cli_has_flag(argc, argv, "--json")) { /* as GET /v1/models answers */
        int err = render_json_print(stdout, &resp->models->base);
        witan__response__free_unpacked(resp, NULL);
        return err ? cli_fail("output", err) : 0;
    }
    for (size_t i = 0; i < resp->models->n_models; i++) {
        const Witan__ModelRecord *m = resp->models->models[i];
        char hex[65], tx[65], op[41];
        witan_hex_encode(m->hash.data, m->hash.len, hex);
        witan_hex_encode(m->tx_hash.data, m->tx_hash.len, tx);
        witan_hex_encode(m->operator_.data, m->operator_.len, op);
        printf("%s  %s v%u  registered at height %llu by %s (tx %.16s), gas "
               "bound %llu\n",
               hex, m->name, m->version, (unsigned long long)m->height, op, tx,
               (unsigned long long)m->gas_max);
        if (one) {
            printf("  inputs:\n");
            for (size_t j = 0; j < m->n_inputs; j++)
                print_binding(m->inputs[j]);
            printf("  triggers:\n");
            for (size_t j = 0; j < m->n_triggers; j++)
                printf("    %s/%s\n", m->triggers[j]->feed,
                       m->triggers[j]->subject);
            if (m->target)
                printf("  target: %s of %s/%s %lld ms "
                       "later, against output %u; recent window %u\n",
                       m->target->value, m->target->feed,
                       m->target->subject[0] ? m->target->subject
                                             : "<the trigger's subject>",
                       (long long)m->target->horizon_ms, m->target->output,
                       m->target->window ? m->target->window
                                         : WITAN_SCORECARD_WINDOW_DEFAULT);
            printf("  model bytes: %zu\n", m->model.len);
        }
    }
    witan__response__free_unpacked(resp, NULL);
    return 0;
}

/* A 128-bit sum over count, scaled by 2^-shift, for people. */
static double mean_of(uint64_t hi, uint64_t lo, uint64_t count, uint32_t shift)
{
    if (!count)
        return 0;
    double sum = (double)hi * 18446744073709551616.0 + (double)lo;
    return sum / (double)count / (double)((unsigned __int128)1 << shift);
}

/* witan model scorecard NAME|HASH: the model's account against what
 * happened. Floating point only for display. */
static int cmd_scorecard(int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "witan model scorecard: a model name or hash is "
                        "required\n");
        return 2;
    }
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    uint8_t hash[WITAN_HASH_SIZE];
    if (strlen(argv[2]) != 2 * WITAN_HASH_SIZE ||
        witan_hex_decode(argv[2], hash, WITAN_HASH_SIZE)) {
        /* a name: the registered model of that name (the newest version) */
        Witan__Request req = WITAN__REQUEST__INIT;
        Witan__ModelsRequest mr = WITAN__MODELS_REQUEST__INIT;
        mr.limit = WITAN_QUERY_PAGE_COUNT_MAX;
        req.kind_case = WITAN__REQUEST__KIND_MODELS;
        req.models = &mr;
        Witan__Response *resp;
        if (call_ok(address, &req, "models", &resp))
            return 1;
        uint32_t best = 0;
        bool found = false;
        for (size_t i = 0; i < resp->models->n_models; i++) {
            const Witan__ModelRecord *m = resp->models->models[i];
            if (strcmp(m->name, argv[2]) == 0 && (!found || m->version > best)) {
                memcpy(hash, m->hash.data, WITAN_HASH_SIZE);
                best = m->version;
                found = true;
            }
        }
        witan__response__free_unpacked(resp, NULL);
        if (!found) {
            fprintf(stderr, "witan model scorecard: no model named '%s' "
                            "(or give its 64-hex-digit hash)\n", argv[2]);
            return 1;
        }
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__ScorecardRequest sr = WITAN__SCORECARD_REQUEST__INIT;
    sr.model_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    req.kind_case = WITAN__REQUEST__KIND_SCORECARD;
    req.scorecard = &sr;
    Witan__Response *resp;
    if (call_ok(address, &req, "scorecard", &resp))
        return 1;
    const Witan__ScorecardResponse *r = resp->scorecard;
    int rc = 0;
    if (cli_has_flag(argc, argv, "--json")) {
        rc = render_json_print(stdout, &r->base) ? 1 : 0;
    } else if (!r->target) {
        printf("this model declares no target: nothing to score it against\n");
    } else if (!r->scorecard) {
        printf("no prediction resolved yet (target %s of %s, %lld ms after "
               "each prediction's observation)\n",
               r->target->value, r->target->feed,
               (long long)r->target->horizon_ms);
    } else {
        const Witan__Scorecard *c = r->scorecard;
        double mse = mean_of(c->sum_sq_hi, c->sum_sq_lo, c->count,
                             2 * c->frac_bits);
        double rmse_recent = mean_of(r->recent_sum_sq_hi, r->recent_sum_sq_lo,
                                     r->recent_count, 2 * c->frac_bits);
        printf("target: %s of %s, %lld ms after each prediction's "
               "observation\n",
               r->target->value, r->target->feed,
               (long long)r->target->horizon_ms);
        printf("all time:  %llu resolved  RMSE %.6g  MAE %.6g  (sum of "
               "squared errors %.6g)%s\n",
               (unsigned long long)c->count, sqrt(mse),
               mean_of(c->sum_abs_hi, c->sum_abs_lo, c->count, c->frac_bits),
               mse * (double)c->count, c->saturated ? "  [saturated]" : "");
        printf("last %llu:  RMSE %.6g  MAE %.6g  (window %u)\n",
               (unsigned long long)r->recent_count, sqrt(rmse_recent),
               mean_of(r->recent_sum_abs_hi, r->recent_sum_abs_lo,
                       r->recent_count, c->frac_bits),
               c->window);
        printf("updated at height %llu\n",
               (unsigned long long)c->updated_height);
    }
    witan__response__free_unpacked(resp, NULL);
    return rc;
}

static const char chain_usage[] =
    "       witan model register MODEL.bin --key K --name NAME [--version N]\n"
    "                  --input feed=F,subject=S,value=V[,window=K][,max_age_ms=M]\n"
    "                  --input feed=F,subject=S,year   (one per model input)\n"
    "                  [--trigger FEED:SUBJECT ...] [--allow-extrapolation]\n"
    "                  [--target feed=F,value=V[,subject=S][,horizon_ms=H]\n"
    "                   [,output=K][,window=N]] [--wait]\n"
    "       witan model list | witan model show HASH\n"
    "       witan model scorecard NAME|HASH\n"
    "       witan model ask HASH --key K [--input v1,v2,...] [--wait]\n"
    "       witan model post HASH --key K --output name=v,... [--input ...]\n"
    "                  [--input-tx TXHASH ...] [--wait]\n"
    "  common: [--node URL [--tls-ca FILE] | --home DIR] [--json]\n";

static const struct cli_opt register_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN,
    {"--name", true, false},
    {"--version", true, false},
    {"--input", true, true},
    {"--trigger", true, true},
    {"--target", true, false},
    {"--allow-extrapolation", false, false},
    {NULL, false, false},
};
static const struct cli_opt ask_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN, {"--input", true, false},
    {NULL, false, false},
};
static const struct cli_opt post_opts[] = {
    CLI_OPTS_NODE, CLI_OPTS_SIGN,
    {"--output", true, false},
    {"--input", true, false},
    {"--input-tx", true, true},
    {NULL, false, false},
};
static const struct cli_opt list_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {NULL, false, false},
};
static const struct cli_opt scorecard_opts[] = {
    CLI_OPTS_NODE, {"--json", false, false}, {NULL, false, false},
};

int cli_model_chain(int argc, char **argv)
{
    const char *verb = argv[1];
    static const struct {
        const char *verb;
        const struct cli_opt *opts;
        int positional;
    } verbs[] = {{"register", register_opts, 1}, {"ask", ask_opts, 1},
                 {"post", post_opts, 1},         {"list", list_opts, 0},
                 {"show", list_opts, 1},         {"scorecard", scorecard_opts, 1}};
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(verbs); i++) {
        char what[32];
        snprintf(what, sizeof what, "model %s", verbs[i].verb);
        if (strcmp(verb, verbs[i].verb) != 0)
            continue;
        if (cli_args_check(argc, argv, 2, verbs[i].opts, verbs[i].positional,
                           what))
            return 2;
        /* `model ask --key K HASH` as well as `model ask HASH --key K` */
        cli_positional_first(argc, argv, 2, verbs[i].opts);
    }
    if (strcmp(verb, "register") == 0)
        return cmd_register(argc, argv);
    if (strcmp(verb, "list") == 0)
        return cmd_list(argc, argv, NULL);
    if (strcmp(verb, "ask") == 0)
        return cmd_ask(argc, argv);
    if (strcmp(verb, "post") == 0)
        return cmd_post(argc, argv);
    if (strcmp(verb, "scorecard") == 0)
        return cmd_scorecard(argc, argv);
    if (strcmp(verb, "show") == 0) {
        uint8_t hash[WITAN_HASH_SIZE];
        if (argc < 3 || witan_hex_decode(argv[2], hash, WITAN_HASH_SIZE)) {
            fputs(chain_usage, stderr);
            return 2;
        }
        return cmd_list(argc, argv, hash);
    }
    fprintf(stderr, "witan model: unknown command '%s'\n", verb);
    return 2;
}

static void print_fixed(int64_t v, uint32_t frac_bits)
{
    char text[48];
    cli_format_fixed(v, frac_bits, text, sizeof text);
    fputs(text, stdout);
}

int cli_query_predictions(const char *address, int argc, char **argv)
{
    const char *model = cli_flag(argc, argv, "--model");
    uint8_t hash[WITAN_HASH_SIZE], cur[44];
    if (model && cli_parse_hash("query predictions", "--model", model, hash,
                                WITAN_HASH_SIZE))
        return 2;
    if (!model) {
        fprintf(stderr, "witan query predictions: --model HASH is required\n");
        return 2;
    }
    Witan__PredictionsRequest pr = WITAN__PREDICTIONS_REQUEST__INIT;
    pr.model_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, hash};
    const char *subject = cli_flag(argc, argv, "--subject");
    const char *from = cli_flag(argc, argv, "--from");
    const char *to = cli_flag(argc, argv, "--to");
    const char *limit = cli_flag(argc, argv, "--limit");
    const char *cursor = cli_flag(argc, argv, "--cursor");
    pr.subject = (char *)(subject ? subject : "");
    const char *what = "query predictions";
    uint64_t n_limit = 0;
    if ((from && cli_parse_u64(what, "--from", from, UINT64_MAX,
                               &pr.from_height)) ||
        (to && cli_parse_u64(what, "--to", to, UINT64_MAX, &pr.to_height)) ||
        (limit && cli_parse_u64(what, "--limit", limit,
                                WITAN_QUERY_PAGE_COUNT_MAX, &n_limit)))
        return 2;
    pr.limit = (uint32_t)n_limit;
    if (cursor) {
        if (witan_hex_decode(cursor, cur, sizeof cur)) {
            fprintf(stderr, "witan query predictions: --cursor '%s' is "
                            "invalid: give the hex a previous page printed\n",
                    cursor);
            return 2;
        }
        pr.cursor = (ProtobufCBinaryData){sizeof cur, cur};
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_PREDICTIONS;
    req.predictions = &pr;
    Witan__Response *resp;
    if (call_ok(address, &req, "predictions", &resp))
        return 1;
    static const char *const status[] = {"?", "ok", "missing input",
                                         "out of gas", "input out of range",
                                         "outside calibration"};
    const Witan__PredictionsResponse *r = resp->predictions;
    if (cli_has_flag(argc, argv, "--json")) { /* as GET /v1/predictions */
        int err = render_json_print(stdout, &r->base);
        witan__response__free_unpacked(resp, NULL);
        return err ? cli_fail("output", err) : 0;
    }
    for (size_t i = 0; i < r->n_records; i++) {
        const Witan__PredictionRecord *p = r->records[i];
        char tx[65], mtx[65];
        witan_hex_encode(p->tx_hash.data, p->tx_hash.len, tx);
        witan_hex_encode(p->model_tx.data, p->model_tx.len, mtx);
        printf("height %llu  %s  %s%s%s  %s\n", (unsigned long long)p->height,
               p->computed ? "computed" : "ATTESTED by operator",
               p->subject[0] ? "subject " : "", p->subject,
               p->subject[0] ? "" : "-", status[p->status <= 5 ? p->status : 0]);
        if (p->outside_calibration || p->saturated)
            printf("  %u inputs outside calibration, %u values saturated\n",
                   p->outside_calibration, p->saturated);
        if (p->problem) {
            char why[256];
            ledger_prediction_why(p->problem, why, sizeof why);
            printf("  why: %s\n", why);
        }
        for (size_t j = 0; j < p->n_outputs; j++) {
            printf("  %s = ", j < p->n_output_names ? p->output_names[j] : "out");
            print_fixed(p->outputs[j], p->output_frac_bits);
            printf("\n");
        }
        for (size_t j = 0; j < p->n_posted_outputs; j++) {
            char num[48];
            cli_format_decimal(p->posted_outputs[j]->mantissa,
                               p->posted_outputs[j]->scale, num, sizeof num);
            printf("  %s = %s (posted)\n", p->posted_outputs[j]->name, num);
        }
        printf("  inputs:");
        for (size_t j = 0; j < p->n_inputs; j++) {
            printf(" ");
            if (p->input_encoding == INFER_IN_FLOAT32_ORDER)
                printf("%.9g", (double)infer_float32_of_key(p->inputs[j]));
            else
                print_fixed(p->inputs[j], j < p->n_inputs_frac_bits
                                              ? p->inputs_frac_bits[j]
                                              : p->input_frac_bits);
        }
        printf("\n  caused by tx %s\n", tx);
        if (mtx[0])
            printf("  model registered by tx %s\n", mtx);
        for (size_t j = 0; j < p->n_input_txs; j++) {
            char itx[65];
            witan_hex_encode(p->input_txs[j].data, p->input_txs[j].len, itx);
            printf("  input %zu from tx %s\n", j, itx[0] ? itx : "(none)");
        }
    }
    if (r->next_cursor.len) {
        char c[89];
        witan_hex_encode(r->next_cursor.data, r->next_cursor.len, c);
        printf("more: --cursor %s\n", c);
    }
    witan__response__free_unpacked(resp, NULL);
    return 0;
}
