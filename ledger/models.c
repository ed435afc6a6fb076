/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Models on chain: registration with input bindings and triggers, scoring
 * when a triggering attestation is applied or a Score asks for it, posted
 * predictions, and the model-output records they leave (spec/models.md, "On
 * chain").
 *
 * Everything here is deterministic: inputs are read from state in key order,
 * converted from exact decimals to fixed point by inference/, scored in
 * integers, and recorded with the attestations they came from. An input that
 * cannot be had is never guessed: the record says which and why.
 */
#include <string.h>

#include "inference/inference.h"
#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

/* --- stateless rules -------------------------------------------------------- */

/* Inputs a binding feeds: its window, or one. */
static size_t binding_width(const Witan__ModelInput *b)
{
    return b->observed_year || b->window <= 1 ? 1 : b->window;
}

int models_check_register(const ledger *l, const Witan__RegisterModel *r,
                          char *why, size_t why_size)
{
    if (!ledger_text_ok(r->name, WITAN_MODEL_NAME_SIZE_MAX, false)) {
        WHY("model name must be 1 to %d printable characters",
            WITAN_MODEL_NAME_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (r->n_inputs == 0 || r->n_inputs > WITAN_MODEL_INPUT_COUNT_MAX ||
        r->n_triggers > WITAN_MODEL_TRIGGER_COUNT_MAX) {
        WHY("a registration binds 1 to %d inputs and at most %d triggers",
            WITAN_MODEL_INPUT_COUNT_MAX, WITAN_MODEL_TRIGGER_COUNT_MAX);
        return WITAN_ELIMIT;
    }
    size_t width = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        const Witan__ModelInput *b = r->inputs[i];
        if (!ledger_feed_ok(b->feed) ||
            !ledger_text_ok(b->subject, WITAN_SUBJECT_SIZE_MAX, false) ||
            (!b->observed_year &&
             !ledger_text_ok(b->value, WITAN_VALUE_NAME_SIZE_MAX, false)) ||
            b->window > WITAN_MODEL_WINDOW_MAX || b->max_age_ms < 0) {
            WHY("input binding %zu needs a valid feed, subject and value, a "
                "window of at most %d and a non-negative max age",
                i, WITAN_MODEL_WINDOW_MAX);
            return WITAN_EINVAL;
        }
        width += binding_width(b);
    }
    for (size_t i = 0; i < r->n_triggers; i++)
        if (!ledger_feed_ok(r->triggers[i]->feed) ||
            !ledger_text_ok(r->triggers[i]->subject, WITAN_SUBJECT_SIZE_MAX,
                            false)) {
            WHY("trigger %zu needs a valid feed and subject", i);
            return WITAN_EINVAL;
        }
    infer_model *m;
    char inner[160];
    int err = infer_model_load(r->model.data, r->model.len, &m, inner,
                               sizeof inner);
    if (err) {
        WHY("model is invalid: %s", inner);
        return err;
    }
    struct infer_info info;
    infer_model_info(m, &info);
    infer_model_free(m);
    if (width != info.input_count) {
        WHY("bindings give %zu inputs; the model takes %zu", width,
            info.input_count);
        return WITAN_EINVAL;
    }
    if (info.gas_max > ledger_params(l)->model_gas_max) {
        WHY("one score of this model costs up to %llu gas; the chain's "
            "model_gas_max is %llu",
            (unsigned long long)info.gas_max,
            (unsigned long long)ledger_params(l)->model_gas_max);
        return WITAN_ELIMIT;
    }
    const Witan__ModelTarget *t = r->target;
    if (t && (!ledger_feed_ok(t->feed) ||
              !ledger_text_ok(t->subject, WITAN_SUBJECT_SIZE_MAX, true) ||
              !ledger_text_ok(t->value, WITAN_VALUE_NAME_SIZE_MAX, false) ||
              t->horizon_ms < 0 || t->horizon_ms > WITAN_TARGET_HORIZON_MS_MAX ||
              t->output >= info.output_count ||
              t->window > WITAN_SCORECARD_WINDOW_MAX)) {
        WHY("the target needs a valid feed and value, a horizon of 0 to %lld "
            "ms, one of the model's %zu outputs and a window of at most %d",
            (long long)WITAN_TARGET_HORIZON_MS_MAX, info.output_count,
            WITAN_SCORECARD_WINDOW_MAX);
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

static int check_values(Witan__NamedValue *const *v, size_t n, size_t max,
                        const char *what, char *why, size_t why_size)
{
    if (n > max) {
        WHY("at most %zu %s", max, what);
        return WITAN_ELIMIT;
    }
    for (size_t i = 0; i < n; i++)
        if (v[i]->scale > WITAN_DECIMAL_SCALE_MAX ||
            strlen(v[i]->name) > WITAN_VALUE_NAME_SIZE_MAX) {
            WHY("%s %zu: name over %d bytes or scale over %d", what, i,
                WITAN_VALUE_NAME_SIZE_MAX, WITAN_DECIMAL_SCALE_MAX);
            return WITAN_EINVAL;
        }
    return WITAN_OK;
}

int models_check_score(const Witan__Score *s, char *why, size_t why_size)
{
    if (s->model_hash.len != WITAN_HASH_SIZE) {
        WHY("a score names a 32-byte model hash");
        return WITAN_EINVAL;
    }
    return check_values(s->inputs, s->n_inputs, WITAN_MODEL_INPUT_COUNT_MAX,
                        "inputs", why, why_size);
}

int models_check_post(const Witan__PostPrediction *p, char *why,
                      size_t why_size)
{
    if (p->model_hash.len != WITAN_HASH_SIZE || p->n_outputs == 0) {
        WHY("a posted prediction names a 32-byte model hash and at least one "
            "output");
        return WITAN_EINVAL;
    }
    for (size_t i = 0; i < p->n_input_txs; i++)
        if (p->input_txs[i].len != WITAN_HASH_SIZE) {
            WHY("input transaction %zu is not a 32-byte hash", i);
            return WITAN_EINVAL;
        }
    int err = check_values(p->inputs, p->n_inputs, WITAN_MODEL_INPUT_COUNT_MAX,
                           "inputs", why, why_size);
    if (!err)
        err = check_values(p->outputs, p->n_outputs,
                           WITAN_MODEL_OUTPUT_COUNT_MAX, "outputs", why,
                           why_size);
    if (!err && p->n_input_txs > WITAN_MODEL_INPUT_COUNT_MAX) {
        WHY("at most %d input transactions", WITAN_MODEL_INPUT_COUNT_MAX);
        err = WITAN_ELIMIT;
    }
    return err;
}

/* --- records ----------------------------------------------------------------- */

static int record_get(store_txn *txn, const uint8_t hash[WITAN_HASH_SIZE],
                      Witan__ModelRecord **out)
{
    const void *v;
    size_t vs;
    *out = NULL;
    int err = store_get(txn, STORE_MODELS, hash, WITAN_HASH_SIZE, &v, &vs);
    if (err)
        return err;
    *out = witan__model_record__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

/* Writes p; then, for a model with a target scored from an observation at
 * *observed_ms, waits for the target; then runs the contracts it triggers. */
static int put_prediction(ledger *l, store_txn *txn,
                          const Witan__PredictionRecord *p,
                          const Witan__ModelRecord *r,
                          const int64_t *observed_ms)
{
    uint8_t key[WITAN_HASH_SIZE + 8 + 4], *buf;
    size_t size;
    memcpy(key, p->model_hash.data, WITAN_HASH_SIZE);
    store_be64(key + WITAN_HASH_SIZE, p->height);
    store_be32(key + 40, l->prediction_seq++);
    int err = pack_message(&p->base, &buf, &size);
    if (err)
        return err;
    err = store_put(txn, STORE_PREDICTIONS, key, sizeof key, buf, size);
    free(buf);
    if (!err && r && observed_ms)
        err = scores_pending(l, txn, r, p, key, sizeof key, *observed_ms);
    /* The contracts it triggers run now, before anything else is scored. */
    if (!err)
        err = contracts_on_prediction(l, txn, p, key, sizeof key);
    return err;
}

void models_cache_clear(ledger *l)
{
    for (size_t i = 0; i < WITAN_MODEL_CACHE_COUNT; i++) {
        infer_model_free(l->model_cache[i].model);
        l->model_cache[i].model = NULL;
    }
}

/* The loaded model, from the cache or decoded once (it was validated at
 * registration, so a failure here means a damaged database). */
static int model_of(ledger *l, const Witan__ModelRecord *r, infer_model **out)
{
    for (size_t i = 0; i < WITAN_MODEL_CACHE_COUNT; i++)
        if (l->model_cache[i].model &&
            memcmp(l->model_cache[i].hash, r->hash.data, WITAN_HASH_SIZE) ==
                0) {
            *out = l->model_cache[i].model;
            return WITAN_OK;
        }
    char why[160];
    infer_model *m;
    if (infer_model_load(r->model.data, r->model.len, &m, why, sizeof why))
        return WITAN_EDBCORRUPT;
    struct model_cache_entry *e =
        &l->model_cache[l->model_cache_next++ % WITAN_MODEL_CACHE_COUNT];
    infer_model_free(e->model);
    e->model = m;
    memcpy(e->hash, r->hash.data, WITAN_HASH_SIZE);
    *out = m;
    return WITAN_OK;
}

/* --- inputs from state --------------------------------------------------------- */

/* The UTC calendar year of a Unix time in ms (proleptic Gregorian). */
static int64_t year_of(int64_t ms)
{
    int64_t days = (ms >= 0 ? ms : ms - 86399999) / 86400000;
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    return yoe + era * 400 + (month <= 2);
}

struct inputs {
    int64_t *values;       /* fixed point */
    ProtobufCBinaryData *txs;
    uint8_t (*tx_store)[WITAN_HASH_SIZE];
    size_t count;
    Witan__PredictionStatus status;
    Witan__PredictionProblem problem; /* when status is not OK */
};

/* Records why the score cannot be made (the first reason found stands). */
static void refuse(struct inputs *in, Witan__PredictionStatus status,
                   Witan__PredictionReason reason, uint32_t binding,
                   int64_t observed_at_ms)
{
    in->status = status;
    in->problem.reason = reason;
    in->problem.binding = binding;
    in->problem.observed_at_ms = observed_at_ms;
}

/* Reads binding number `binding` (from 1): the newest `width` attestations
 * of (feed, subject), each at its latest revision, newest first in the
 * scan, stored oldest first. Sets in->status and in->problem when a value
 * cannot be had. */
static int read_binding(store_txn *txn, const Witan__ModelInput *b,
                        uint32_t binding, const infer_model *m, int64_t now_ms,
                        struct inputs *in)
{
    size_t width = binding_width(b);
    uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX];
    size_t prefix_size =
        attest_key(b->feed, b->subject, 0, NULL, false, 0, prefix) - 8;
    /* Seek past the last key of the prefix, then walk back. */
    uint8_t end[WITAN_STORE_KEY_SIZE_MAX + 1];
    memcpy(end, prefix, prefix_size);
    memset(end + prefix_size, 0xff, 8 + WITAN_ADDRESS_SIZE + 4 + 1);
    size_t end_size = prefix_size + 8 + WITAN_ADDRESS_SIZE + 4 + 1;

    store_cursor *c;
    int err = store_cursor_open(txn, STORE_ATTESTATIONS, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs, found = 0;
    uint8_t last_group[WITAN_STORE_KEY_SIZE_MAX];
    size_t last_group_size = 0;
    err = store_cursor_seek(c, end, end_size, &k, &ks, &v, &vs);
    if (err == WITAN_ENOTFOUND)
        err = store_cursor_last(c, &k, &ks, &v, &vs);
    else if (!err)
        err = store_cursor_prev(c, &k, &ks, &v, &vs);
    size_t base = in->count;
    for (; err == 0 && found < width;
         err = store_cursor_prev(c, &k, &ks, &v, &vs)) {
        if (ks < prefix_size + 4 || memcmp(k, prefix, prefix_size) != 0)
            break;
        size_t group_size = ks - 4; /* without the revision */
        if (group_size == last_group_size &&
            memcmp(k, last_group, group_size) == 0)
            continue; /* an older revision of a key already read */
        memcpy(last_group, k, group_size);
        last_group_size = group_size;
        Witan__AttestationRecord *r =
            witan__attestation_record__unpack(NULL, vs, v);
        if (!r) {
            store_cursor_close(c);
            return WITAN_EDBCORRUPT;
        }
        const Witan__Attest *a = r->attest;
        /* Newest first here; stored so that the model sees time order. */
        size_t slot = base + width - 1 - found;
        int64_t value = 0;
        int conv = WITAN_OK;
        bool have = false;
        if (b->max_age_ms && now_ms - a->observed_at_ms > b->max_age_ms) {
            refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT,
                   WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_OLD,
                   binding, a->observed_at_ms);
            in->problem.limit = b->max_age_ms;
            witan__attestation_record__free_unpacked(r, NULL);
            break;
        }
        if (b->observed_year) {
            conv = infer_input_from_decimal(m, slot, year_of(a->observed_at_ms),
                                            0, &value);
            have = true;
        } else {
            for (size_t i = 0; i < a->n_values; i++)
                if (strcmp(a->values[i]->name, b->value) == 0) {
                    conv = infer_input_from_decimal(m, slot,
                                                    a->values[i]->mantissa,
                                                    a->values[i]->scale,
                                                    &value);
                    have = true;
                }
        }
        if (!have || conv) {
            if (have)
                refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_INPUT_RANGE,
                       WITAN__PREDICTION_REASON__PREDICTION_REASON_VALUE_RANGE,
                       binding, a->observed_at_ms);
            else
                refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT,
                       WITAN__PREDICTION_REASON__PREDICTION_REASON_NO_VALUE,
                       binding, a->observed_at_ms);
            witan__attestation_record__free_unpacked(r, NULL);
            break;
        }
        in->values[slot] = value;
        memcpy(in->tx_store[slot], r->tx_hash.data,
               r->tx_hash.len == WITAN_HASH_SIZE ? WITAN_HASH_SIZE : 0);
        in->txs[slot] =
            (ProtobufCBinaryData){WITAN_HASH_SIZE, in->tx_store[slot]};
        found++;
        witan__attestation_record__free_unpacked(r, NULL);
    }
    store_cursor_close(c);
    if (err && err != WITAN_ENOTFOUND)
        return err;
    if (in->status == WITAN__PREDICTION_STATUS__PREDICTION_OK && found < width) {
        refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_MISSING_INPUT,
               WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_FEW, binding, 0);
        in->problem.needed = (uint32_t)width;
        in->problem.found = (uint32_t)found;
    }
    in->count = base + width;
    return WITAN_OK;
}

/* Scores model `r` on `in` (or records why it could not) and writes the
 * prediction. */
static int score_and_record(ledger *l, store_txn *txn,
                            const Witan__ModelRecord *r, struct inputs *in,
                            const char *subject, const int64_t *observed_ms,
                            const uint8_t tx_hash[WITAN_HASH_SIZE],
                            uint64_t height)
{
    infer_model *m;
    int err = model_of(l, r, &m);
    if (err)
        return err;
    struct infer_info info;
    infer_model_info(m, &info);
    Witan__PredictionRecord p = WITAN__PREDICTION_RECORD__INIT;
    p.model_hash = r->hash;
    p.model_name = r->name;
    p.model_tx = r->tx_hash;
    p.input_frac_bits = info.input_frac_bits;
    uint32_t fracs[WITAN_MODEL_INPUT_COUNT_MAX];
    if (info.per_feature_frac) {
        WITAN_ASSERT(in->count <= WITAN_MODEL_INPUT_COUNT_MAX);
        for (size_t i = 0; i < in->count; i++)
            fracs[i] = infer_input_frac_bits(m, i);
        p.n_inputs_frac_bits = in->count;
        p.inputs_frac_bits = fracs;
    }
    p.input_encoding = (uint32_t)info.input_encoding;
    p.output_frac_bits = info.output_frac_bits;
    p.height = height;
    p.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)tx_hash};
    p.computed = true;
    p.subject = (char *)subject;
    p.status = in->status;
    p.n_inputs = in->count;
    p.inputs = in->values;
    p.n_input_txs = in->count;
    p.input_txs = in->txs;

    int32_t outputs[WITAN_MODEL_OUTPUT_COUNT_MAX];
    int64_t wide[WITAN_MODEL_OUTPUT_COUNT_MAX];
    char *names[WITAN_MODEL_OUTPUT_COUNT_MAX];
    WITAN_ASSERT(info.output_count <= WITAN_MODEL_OUTPUT_COUNT_MAX);
    if (p.status == WITAN__PREDICTION_STATUS__PREDICTION_OK &&
        l->block_gas + info.gas_max > ledger_params(l)->block_gas_max) {
        refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_OUT_OF_GAS,
               WITAN__PREDICTION_REASON__PREDICTION_REASON_BLOCK_GAS, 0, 0);
        in->problem.limit = ledger_params(l)->block_gas_max;
        p.status = in->status;
    }
    if (p.status == WITAN__PREDICTION_STATUS__PREDICTION_OK) {
        struct infer_result res;
        err = infer_score(m, in->values, in->count, outputs, info.output_count,
                          &res);
        if (err == WITAN_ERANGE) {
            refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_INPUT_RANGE,
                   WITAN__PREDICTION_REASON__PREDICTION_REASON_SCORE_RANGE, 0,
                   0);
            p.status = in->status;
        } else if (err) {
            return err;
        } else if (res.outside && !r->allow_extrapolation) {
            /* scored, so charged; but no outputs: the model was never
             * calibrated there */
            refuse(in, WITAN__PREDICTION_STATUS__PREDICTION_OUT_OF_CALIBRATION,
                   WITAN__PREDICTION_REASON__PREDICTION_REASON_OUT_OF_CALIBRATION,
                   0, 0);
            in->problem.input = res.first_outside;
            p.status = in->status;
            p.outside_calibration = res.outside;
            p.gas = res.gas;
            l->block_gas += res.gas;
            l->tx_gas += res.gas;
        } else {
            p.outside_calibration = res.outside;
            p.saturated = res.saturated;
            for (size_t i = 0; i < info.output_count; i++) {
                wide[i] = outputs[i];
                names[i] = (char *)infer_output_name(m, i);
            }
            p.n_outputs = info.output_count;
            p.outputs = wide;
            p.n_output_names = info.output_count;
            p.output_names = names;
            p.label = res.label;
            p.gas = res.gas;
            l->block_gas += res.gas;
            l->tx_gas += res.gas;
        }
    }
    if (p.status != WITAN__PREDICTION_STATUS__PREDICTION_OK) {
        WITAN_ASSERT(in->problem.reason !=
                     WITAN__PREDICTION_REASON__PREDICTION_REASON_UNSPECIFIED);
        p.problem = &in->problem;
    }
    return put_prediction(l, txn, &p, r, observed_ms);
}

static int inputs_alloc(struct inputs *in, size_t n)
{
    memset(in, 0, sizeof *in);
    size_t a = n ? n : 1;
    in->values = calloc(a, sizeof *in->values);
    in->txs = calloc(a, sizeof *in->txs);
    in->tx_store = calloc(a, sizeof *in->tx_store);
    in->status = WITAN__PREDICTION_STATUS__PREDICTION_OK;
    in->problem = (Witan__PredictionProblem)WITAN__PREDICTION_PROBLEM__INIT;
    if (!in->values || !in->txs || !in->tx_store)
        return WITAN_ENOMEM;
    return WITAN_OK;
}

static void inputs_free(struct inputs *in)
{
    free(in->values);
    free(in->txs);
    free(in->tx_store);
}

/* Scores a model on the inputs its bindings read from state now. */
static int score_from_bindings(ledger *l, store_txn *txn,
                               const Witan__ModelRecord *r, int64_t now_ms,
                               bool triggered, const char *subject,
                               const uint8_t tx_hash[WITAN_HASH_SIZE],
                               uint64_t height)
{
    size_t width = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        width += binding_width(r->inputs[i]);
    struct inputs in;
    int err = inputs_alloc(&in, width);
    infer_model *m = NULL;
    if (!err)
        err = model_of(l, r, &m);
    if (!err) {
        struct infer_info info;
        infer_model_info(m, &info);
        for (size_t i = 0; !err && i < r->n_inputs; i++) {
            if (in.status != WITAN__PREDICTION_STATUS__PREDICTION_OK) {
                in.count += binding_width(r->inputs[i]);
                continue;
            }
            err = read_binding(txn, r->inputs[i], (uint32_t)i + 1, m, now_ms,
                               &in);
        }
        /* Inputs never read stay zero and unnamed: the record says why. */
        for (size_t i = 0; i < in.count; i++)
            if (!in.txs[i].data)
                in.txs[i] = (ProtobufCBinaryData){0, NULL};
    }
    if (!err)
        err = score_and_record(l, txn, r, &in, subject,
                               triggered ? &now_ms : NULL, tx_hash, height);
    inputs_free(&in);
    return err;
}

/* --- apply ------------------------------------------------------------------- */

static size_t trigger_key(const char *feed, const char *subject,
                          const uint8_t *model_hash, uint8_t *out)
{
    size_t n = attest_key(feed, subject, 0, NULL, false, 0, out) - 8;
    if (model_hash) {
        memcpy(out + n, model_hash, WITAN_HASH_SIZE);
        n += WITAN_HASH_SIZE;
    }
    return n;
}

int models_apply_register(ledger *l, store_txn *txn, const Witan__TxBody *body,
                          const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                          Witan__TxStatus *status)
{
    (void)l;
    const Witan__RegisterModel *reg = body->register_model;
    uint8_t model_hash[WITAN_HASH_SIZE];
    wcrypto_hash_tagged(INFER_TAG_MODEL, reg->model.data, reg->model.len,
                        model_hash);
    Witan__ModelRecord *existing;
    int err = record_get(txn, model_hash, &existing);
    if (err == 0) {
        witan__model_record__free_unpacked(existing, NULL);
        *status = WITAN__TX_STATUS__TX_STATUS_DUPLICATE;
        return WITAN_OK;
    }
    if (err != WITAN_ENOTFOUND)
        return err;
    infer_model *m;
    char why[160];
    if (infer_model_load(reg->model.data, reg->model.len, &m, why, sizeof why)) {
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        return WITAN_OK;
    }
    struct infer_info info;
    infer_model_info(m, &info);
    infer_model_free(m);

    Witan__ModelRecord r = WITAN__MODEL_RECORD__INIT;
    r.hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, model_hash};
    r.name = reg->name;
    r.version = reg->version;
    r.model = reg->model;
    r.n_inputs = reg->n_inputs;
    r.inputs = reg->inputs;
    r.n_triggers = reg->n_triggers;
    r.triggers = reg->triggers;
    r.operator_ = body->sender;
    r.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
    r.height = height;
    r.gas_max = info.gas_max;
    r.allow_extrapolation = reg->allow_extrapolation;
    r.target = reg->target;
    uint8_t *buf;
    size_t size;
    err = pack_message(&r.base, &buf, &size);
    if (err)
        return err;
    err = store_put(txn, STORE_MODELS, model_hash, WITAN_HASH_SIZE, buf, size);
    free(buf);
    for (size_t i = 0; !err && i < reg->n_triggers; i++) {
        uint8_t key[WITAN_STORE_KEY_SIZE_MAX];
        size_t n = trigger_key(reg->triggers[i]->feed,
                               reg->triggers[i]->subject, model_hash, key);
        err = store_put(txn, STORE_TRIGGERS, key, n, "", 0);
    }
    return err;
}

int models_apply_score(ledger *l, store_txn *txn, const Witan__TxBody *body,
                       const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                       Witan__TxStatus *status)
{
    const Witan__Score *s = body->score;
    Witan__ModelRecord *r;
    int err = record_get(txn, s->model_hash.data, &r);
    if (err == WITAN_ENOTFOUND) {
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MODEL;
        return WITAN_OK;
    }
    if (err)
        return err;
    if (r->retired_height) {
        *status = WITAN__TX_STATUS__TX_STATUS_MODEL_RETIRED;
        witan__model_record__free_unpacked(r, NULL);
        return WITAN_OK;
    }
    infer_model *m;
    err = model_of(l, r, &m);
    struct infer_info info;
    if (!err)
        infer_model_info(m, &info);
    if (!err && s->n_inputs == 0) {
        err = score_from_bindings(l, txn, r, l->block_time_ms, false, "",
                                  hash, height);
    } else if (!err && s->n_inputs != info.input_count) {
        *status = WITAN__TX_STATUS__TX_STATUS_INPUT_MISMATCH;
    } else if (!err) {
        struct inputs in;
        err = inputs_alloc(&in, s->n_inputs);
        for (size_t i = 0; !err && i < s->n_inputs; i++) {
            if (infer_input_from_decimal(m, i, s->inputs[i]->mantissa,
                                         s->inputs[i]->scale,
                                         &in.values[i]) != 0 &&
                in.status == WITAN__PREDICTION_STATUS__PREDICTION_OK) {
                refuse(&in, WITAN__PREDICTION_STATUS__PREDICTION_INPUT_RANGE,
                       WITAN__PREDICTION_REASON__PREDICTION_REASON_VALUE_RANGE,
                       0, 0);
                in.problem.input = (uint32_t)i + 1;
            }
        }
        in.count = s->n_inputs;
        if (!err)
            err = score_and_record(l, txn, r, &in, "", NULL, hash, height);
        inputs_free(&in);
    }
    witan__model_record__free_unpacked(r, NULL);
    return err;
}

int models_apply_post(ledger *l, store_txn *txn, const Witan__TxBody *body,
                      const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                      Witan__TxStatus *status)
{
    const Witan__PostPrediction *post = body->post_prediction;
    Witan__PredictionRecord p = WITAN__PREDICTION_RECORD__INIT;
    p.model_hash = post->model_hash;
    p.status = WITAN__PREDICTION_STATUS__PREDICTION_OK;
    p.height = height;
    p.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
    p.computed = false;
    p.operator_ = body->sender;
    p.n_input_txs = post->n_input_txs;
    p.input_txs = post->input_txs;
    p.n_posted_inputs = post->n_inputs;
    p.posted_inputs = post->inputs;
    p.n_posted_outputs = post->n_outputs;
    p.posted_outputs = post->outputs;
    /* The model may be registered (then its name is shown) or not: a model
     * too large to run on chain is named by its hash alone. */
    Witan__ModelRecord *r = NULL;
    int err = record_get(txn, post->model_hash.data, &r);
    if (err && err != WITAN_ENOTFOUND)
        return err;
    if (r && r->retired_height) {
        *status = WITAN__TX_STATUS__TX_STATUS_MODEL_RETIRED;
        witan__model_record__free_unpacked(r, NULL);
        return WITAN_OK;
    }
    if (r) {
        p.model_name = r->name;
        p.model_tx = r->tx_hash;
    }
    err = put_prediction(l, txn, &p, NULL, NULL);
    if (r)
        witan__model_record__free_unpacked(r, NULL);
    return err;
}

int models_on_attestation(ledger *l, store_txn *txn, const Witan__Attest *a,
                          const uint8_t hash[WITAN_HASH_SIZE], uint64_t height)
{
    uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX];
    size_t prefix_size = trigger_key(a->feed, a->subject, NULL, prefix);
    /* Collect first: scoring writes to other tables while we iterate. */
    uint8_t hashes[WITAN_MODEL_CACHE_COUNT * 4][WITAN_HASH_SIZE];
    size_t count = 0;
    store_cursor *c;
    int err = store_cursor_open(txn, STORE_TRIGGERS, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    for (err = store_cursor_seek(c, prefix, prefix_size, &k, &ks, &v, &vs);
         err == 0 && count < WITAN_ARRAY_COUNT(hashes);
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != prefix_size + WITAN_HASH_SIZE ||
            memcmp(k, prefix, prefix_size) != 0)
            break;
        memcpy(hashes[count++], (const uint8_t *)k + prefix_size,
               WITAN_HASH_SIZE);
    }
    store_cursor_close(c);
    if (err && err != WITAN_ENOTFOUND)
        return err;
    for (size_t i = 0; i < count; i++) {
        Witan__ModelRecord *r;
        err = record_get(txn, hashes[i], &r);
        if (err)
            return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
        err = score_from_bindings(l, txn, r, a->observed_at_ms, true,
                                  a->subject, hash, height);
        witan__model_record__free_unpacked(r, NULL);
        if (err)
            return err;
    }
    return WITAN_OK;
}

int models_retire(store_txn *txn, const uint8_t hash[WITAN_HASH_SIZE],
                  uint64_t height, const uint8_t by[WITAN_HASH_SIZE],
                  Witan__TxStatus *status)
{
    Witan__ModelRecord *r;
    int err = record_get(txn, hash, &r);
    if (err == WITAN_ENOTFOUND) {
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MODEL;
        return WITAN_OK;
    }
    if (err)
        return err;
    if (r->retired_height) {
        *status = WITAN__TX_STATUS__TX_STATUS_MODEL_RETIRED;
    } else if (by) {
        /* Its attestation triggers go, so it is never scored again; the
         * record stays, with when and by what it was retired. */
        for (size_t i = 0; !err && i < r->n_triggers; i++) {
            uint8_t key[WITAN_STORE_KEY_SIZE_MAX];
            size_t n = trigger_key(r->triggers[i]->feed,
                                   r->triggers[i]->subject, hash, key);
            err = store_del(txn, STORE_TRIGGERS, key, n);
            if (err == WITAN_ENOTFOUND)
                err = WITAN_OK;
        }
        r->retired_height = height;
        ProtobufCBinaryData old = r->retired_by;
        r->retired_by = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)by};
        if (!err)
            err = store_message(txn, STORE_MODELS, hash, WITAN_HASH_SIZE,
                                &r->base);
        r->retired_by = old;
    }
    witan__model_record__free_unpacked(r, NULL);
    return err;
}
