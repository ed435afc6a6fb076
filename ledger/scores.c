/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Closing the loop (spec/contracts.md section 7): a model that declares a
 * target has each prediction it makes from an observation at t resolved by
 * the target's observation at t + horizon, and keeps a scorecard of its
 * errors — count, Σ error², Σ |error| over all time and the last N. All in
 * integers: errors in the model's output format, sums in 128 bits.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"

typedef unsigned __int128 u128;

/* resolutions (table 20): target feed 0 subject 0 be64(T ^ 2^63) then the
 * prediction's key. */
static size_t resolution_prefix(const char *feed, const char *subject,
                                int64_t t, uint8_t *out)
{
    return attest_key(feed, subject, t, NULL, false, 0, out);
}

int scores_pending(ledger *l, store_txn *txn, const Witan__ModelRecord *r,
                   const Witan__PredictionRecord *p, const uint8_t *pkey,
                   size_t pkey_size, int64_t observed_ms)
{
    (void)l;
    const Witan__ModelTarget *t = r->target;
    int64_t when;
    if (!t || p->status != WITAN__PREDICTION_STATUS__PREDICTION_OK ||
        !p->computed || !p->subject[0] ||
        __builtin_add_overflow(observed_ms, t->horizon_ms, &when))
        return WITAN_OK;
    uint8_t k[WITAN_STORE_KEY_SIZE_MAX];
    size_t n = resolution_prefix(t->feed, t->subject[0] ? t->subject : p->subject,
                                 when, k);
    WITAN_ASSERT(n + pkey_size <= WITAN_STORE_KEY_SIZE_MAX);
    memcpy(k + n, pkey, pkey_size);
    return store_put(txn, STORE_RESOLUTIONS, k, n + pkey_size, "", 0);
}

/* --- 128-bit sums ------------------------------------------------------------ */

static u128 join(uint64_t hi, uint64_t lo)
{
    return (u128)hi << 64 | lo;
}

static void split(u128 v, uint64_t *hi, uint64_t *lo)
{
    *hi = (uint64_t)(v >> 64);
    *lo = (uint64_t)v;
}

static u128 sq(int64_t e)
{
    u128 m = e < 0 ? (u128)(-(__int128)e) : (u128)e;
    return m * m; /* |e| <= 2^63: the square fits */
}

static u128 mag(int64_t e)
{
    return e < 0 ? (u128)(-(__int128)e) : (u128)e;
}

/* a + b, saturating (the card then says so). */
static u128 add_sat(u128 a, u128 b, protobuf_c_boolean *sat)
{
    u128 s = a + b;
    if (s < a) {
        *sat = 1;
        return ~(u128)0;
    }
    return s;
}

/* Adds (sign +1) or takes back (-1) one error in the all-time sums. A
 * saturated card stays saturated: what it lost cannot be given back. */
static void account(Witan__Scorecard *c, int64_t e, int sign)
{
    u128 s2 = join(c->sum_sq_hi, c->sum_sq_lo);
    u128 s1 = join(c->sum_abs_hi, c->sum_abs_lo);
    if (sign > 0) {
        c->count++;
        s2 = add_sat(s2, sq(e), &c->saturated);
        s1 = add_sat(s1, mag(e), &c->saturated);
    } else if (!c->saturated) {
        WITAN_ASSERT(c->count > 0 && s2 >= sq(e) && s1 >= mag(e));
        c->count--;
        s2 -= sq(e);
        s1 -= mag(e);
    } else {
        c->count--;
    }
    split(s2, &c->sum_sq_hi, &c->sum_sq_lo);
    split(s1, &c->sum_abs_hi, &c->sum_abs_lo);
}

/* --- resolving ------------------------------------------------------------------ */

/* round(m * 2^f / 10^s), halves away from zero; false if not int64. */
static bool decimal_to_fixed(int64_t m, uint32_t s, uint32_t f, int64_t *out)
{
    static const int64_t p10[19] = {
        1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
        100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
        1000000000000LL, 10000000000000LL, 100000000000000LL,
        1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
        1000000000000000000LL};
    if (s > WITAN_DECIMAL_SCALE_MAX || f > 62)
        return false;
    __int128 num = (__int128)m * ((__int128)1 << f), den = p10[s];
    __int128 a = num < 0 ? -num : num;
    __int128 q = a / den, rem = a % den;
    if (2 * rem >= den)
        q++;
    if (q > INT64_MAX)
        return false;
    *out = num < 0 ? -(int64_t)q : (int64_t)q;
    return true;
}

static int get_message(store_txn *txn, enum store_table t, const void *key,
                       size_t ks, const ProtobufCMessageDescriptor *d,
                       ProtobufCMessage **out)
{
    const void *v;
    size_t vs;
    *out = NULL;
    int err = store_get(txn, t, key, ks, &v, &vs);
    if (err)
        return err;
    *out = protobuf_c_message_unpack(d, NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

/* The model's scorecard, or a new one (on the heap, as unpack makes). */
static int card_get(store_txn *txn, const Witan__ModelRecord *r,
                    const Witan__PredictionRecord *p, Witan__Scorecard **out)
{
    int err = get_message(txn, STORE_SCORECARDS, r->hash.data, WITAN_HASH_SIZE,
                          &witan__scorecard__descriptor,
                          (ProtobufCMessage **)out);
    if (err != WITAN_ENOTFOUND)
        return err;
    Witan__Scorecard *c = calloc(1, sizeof *c);
    if (!c)
        return WITAN_ENOMEM;
    witan__scorecard__init(c);
    c->model_hash.data = malloc(WITAN_HASH_SIZE);
    if (!c->model_hash.data) {
        free(c);
        return WITAN_ENOMEM;
    }
    memcpy(c->model_hash.data, r->hash.data, WITAN_HASH_SIZE);
    c->model_hash.len = WITAN_HASH_SIZE;
    c->frac_bits = p->output_frac_bits;
    c->window = r->target->window ? r->target->window
                                  : WITAN_SCORECARD_WINDOW_DEFAULT;
    *out = c;
    return WITAN_OK;
}

/* Puts (or replaces) the prediction's error in the last-N ring. */
static int recent_put(Witan__Scorecard *c, const uint8_t *pkey,
                      size_t pkey_size, int64_t e, bool replace)
{
    if (replace) {
        for (size_t i = 0; i < c->n_recent_predictions; i++)
            if (c->recent_predictions[i].len == pkey_size &&
                memcmp(c->recent_predictions[i].data, pkey, pkey_size) == 0) {
                c->recent_errors[i] = e;
                return WITAN_OK;
            }
        return WITAN_OK; /* left the window already */
    }
    WITAN_ASSERT(c->n_recent_predictions == c->n_recent_errors);
    if (c->n_recent_predictions == c->window) { /* drop the oldest */
        free(c->recent_predictions[0].data);
        memmove(c->recent_predictions, c->recent_predictions + 1,
                (c->window - 1) * sizeof *c->recent_predictions);
        memmove(c->recent_errors, c->recent_errors + 1,
                (c->window - 1) * sizeof *c->recent_errors);
        c->n_recent_predictions--;
        c->n_recent_errors--;
    }
    size_t n = c->n_recent_predictions;
    ProtobufCBinaryData *kp =
        realloc(c->recent_predictions, (n + 1) * sizeof *kp);
    if (!kp)
        return WITAN_ENOMEM;
    c->recent_predictions = kp;
    int64_t *ep = realloc(c->recent_errors, (n + 1) * sizeof *ep);
    if (!ep)
        return WITAN_ENOMEM;
    c->recent_errors = ep;
    kp[n].data = malloc(pkey_size);
    if (!kp[n].data)
        return WITAN_ENOMEM;
    memcpy(kp[n].data, pkey, pkey_size);
    kp[n].len = pkey_size;
    ep[n] = e;
    c->n_recent_predictions = c->n_recent_errors = n + 1;
    return WITAN_OK;
}

/* Resolves (or re-scores) one prediction with the target attestation. */
static int resolve_one(store_txn *txn, const uint8_t *pkey, size_t pkey_size,
                       const Witan__Attest *a, const uint8_t *hash,
                       uint32_t revision, uint64_t height)
{
    Witan__PredictionRecord *p;
    int err = get_message(txn, STORE_PREDICTIONS, pkey, pkey_size,
                          &witan__prediction_record__descriptor,
                          (ProtobufCMessage **)&p);
    if (err)
        return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
    Witan__ModelRecord *r = NULL;
    Witan__PredictionScore *old = NULL;
    Witan__Scorecard *c = NULL;
    err = get_message(txn, STORE_MODELS, p->model_hash.data, p->model_hash.len,
                      &witan__model_record__descriptor, (ProtobufCMessage **)&r);
    if (!err && !r->target)
        err = WITAN_EDBCORRUPT; /* only a target puts a prediction here */
    const Witan__NamedValue *v = NULL;
    for (size_t i = 0; !err && i < a->n_values; i++)
        if (strcmp(a->values[i]->name, r->target->value) == 0)
            v = a->values[i];
    if (!err) {
        err = get_message(txn, STORE_PREDICTION_SCORES, pkey, pkey_size,
                          &witan__prediction_score__descriptor,
                          (ProtobufCMessage **)&old);
        if (err == WITAN_ENOTFOUND)
            err = WITAN_OK;
    }
    /* Resolved by the first observation that has the value; afterwards
     * only a revision of that very attestation re-scores it. */
    bool act = !err && v && r->target->output < p->n_outputs &&
               (!old || (a->corrects.len == WITAN_HASH_SIZE &&
                         old->target_tx.len == WITAN_HASH_SIZE &&
                         memcmp(a->corrects.data, old->target_tx.data,
                                WITAN_HASH_SIZE) == 0));
    int64_t target, e;
    int64_t y = act ? p->outputs[r->target->output] : 0;
    if (act && (!decimal_to_fixed(v->mantissa, v->scale, p->output_frac_bits,
                                  &target) ||
                __builtin_sub_overflow(y, target, &e)))
        act = false; /* not representable: it stays unresolved */
    if (act)
        err = card_get(txn, r, p, &c);
    if (act && !err) {
        if (old)
            account(c, old->error, -1);
        account(c, e, +1);
        err = recent_put(c, pkey, pkey_size, e, old != NULL);
        c->updated_height = height;
    }
    if (act && !err) {
        Witan__PredictionScore s = WITAN__PREDICTION_SCORE__INIT;
        s.prediction = (ProtobufCBinaryData){pkey_size, (uint8_t *)pkey};
        s.model_hash = p->model_hash;
        s.target_tx = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
        s.target_mantissa = v->mantissa;
        s.target_scale = v->scale;
        s.output = y;
        s.target = target;
        s.error = e;
        s.frac_bits = p->output_frac_bits;
        s.height = height;
        s.revision = revision;
        err = store_message(txn, STORE_PREDICTION_SCORES, pkey, pkey_size,
                          &s.base);
        if (!err)
            err = store_message(txn, STORE_SCORECARDS, r->hash.data,
                              WITAN_HASH_SIZE, &c->base);
    }
    if (c)
        witan__scorecard__free_unpacked(c, NULL);
    if (old)
        witan__prediction_score__free_unpacked(old, NULL);
    if (r)
        witan__model_record__free_unpacked(r, NULL);
    witan__prediction_record__free_unpacked(p, NULL);
    return err;
}

int scores_on_attestation(ledger *l, store_txn *txn, const Witan__Attest *a,
                          const uint8_t hash[WITAN_HASH_SIZE],
                          uint32_t revision, uint64_t height)
{
    (void)l;
    uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX];
    size_t n = resolution_prefix(a->feed, a->subject, a->observed_at_ms, prefix);
    /* Collect first: resolving writes elsewhere while we iterate. Most
     * attestations resolve nothing: the room is taken at the first key. */
    enum { KEY = WITAN_HASH_SIZE + 12 };
    uint8_t (*keys)[KEY] = NULL;
    size_t count = 0;
    store_cursor *c = NULL;
    int err = store_cursor_open(txn, STORE_RESOLUTIONS, &c);
    const void *k, *v;
    size_t ks, vs;
    if (!err)
        err = store_cursor_seek(c, prefix, n, &k, &ks, &v, &vs);
    for (; err == 0 && count < WITAN_RESOLVE_COUNT_MAX;
         err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != n + KEY || memcmp(k, prefix, n) != 0)
            break;
        if (!keys &&
            !(keys = malloc(WITAN_RESOLVE_COUNT_MAX * sizeof *keys))) {
            err = WITAN_ENOMEM;
            break;
        }
        memcpy(keys[count++], (const uint8_t *)k + n, KEY);
    }
    if (!err || err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    if (c)
        store_cursor_close(c);
    for (size_t i = 0; !err && i < count; i++)
        err = resolve_one(txn, keys[i], KEY, a, hash, revision, height);
    free(keys);
    return err;
}

/* The sums of a scorecard's recent window. */
static void recent_sums(const Witan__Scorecard *c, u128 *s2, u128 *s1)
{
    protobuf_c_boolean sat = 0;
    *s2 = *s1 = 0;
    for (size_t i = 0; i < c->n_recent_errors; i++) {
        *s2 = add_sat(*s2, sq(c->recent_errors[i]), &sat);
        *s1 = add_sat(*s1, mag(c->recent_errors[i]), &sat);
    }
}

int scores_card(store_txn *txn, const uint8_t model[WITAN_HASH_SIZE],
                struct contract_scorecard *out)
{
    Witan__Scorecard *c;
    int err = get_message(txn, STORE_SCORECARDS, model, WITAN_HASH_SIZE,
                          &witan__scorecard__descriptor, (ProtobufCMessage **)&c);
    if (err)
        return err;
    out->frac_bits = c->frac_bits;
    out->count = c->count;
    out->recent_count = c->n_recent_errors;
    out->sum_sq = join(c->sum_sq_hi, c->sum_sq_lo);
    out->sum_abs = join(c->sum_abs_hi, c->sum_abs_lo);
    recent_sums(c, &out->recent_sum_sq, &out->recent_sum_abs);
    witan__scorecard__free_unpacked(c, NULL);
    return WITAN_OK;
}

int ledger_get_scorecard(ledger *l, const Witan__ScorecardRequest *req,
                         Witan__ScorecardResponse **out)
{
    *out = NULL;
    if (req->model_hash.len != WITAN_HASH_SIZE)
        return WITAN_EINVAL;
    Witan__ScorecardResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__scorecard_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    Witan__ModelRecord *m;
    err = get_message(txn, STORE_MODELS, req->model_hash.data, WITAN_HASH_SIZE,
                      &witan__model_record__descriptor, (ProtobufCMessage **)&m);
    if (!err) {
        r->target = m->target;
        m->target = NULL; /* moved */
        witan__model_record__free_unpacked(m, NULL);
        err = get_message(txn, STORE_SCORECARDS, req->model_hash.data,
                          WITAN_HASH_SIZE, &witan__scorecard__descriptor,
                          (ProtobufCMessage **)&r->scorecard);
        if (err == WITAN_ENOTFOUND)
            err = WITAN_OK;
    }
    store_abort(txn);
    if (!err && r->scorecard) {
        u128 s2, s1;
        recent_sums(r->scorecard, &s2, &s1);
        r->recent_count = r->scorecard->n_recent_errors;
        split(s2, &r->recent_sum_sq_hi, &r->recent_sum_sq_lo);
        split(s1, &r->recent_sum_abs_hi, &r->recent_sum_abs_lo);
    }
    if (err) {
        witan__scorecard_response__free_unpacked(r, NULL);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

void ledger_scorecard_response_free(Witan__ScorecardResponse *r)
{
    if (r)
        witan__scorecard_response__free_unpacked(r, NULL);
}
