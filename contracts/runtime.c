/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One contract run: the host table of spec/contracts.md section 4 over the
 * ledger's callbacks, with the run's storage writes, decisions and events
 * held here until the run ends, so a trap discards them by doing nothing.
 * Every number a contract sees is exact: model outputs and inputs are
 * rescaled to decimals in 128-bit integers, halves away from zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"

/* Room for the largest bytes a host function hands back: every input's
 * attestation hash (more than a window of values or a stored value). */
#define SCRATCH_SIZE (WITAN_MODEL_INPUT_COUNT_MAX * WITAN_HASH_SIZE)
_Static_assert(SCRATCH_SIZE >= 8 * WITAN_MODEL_WINDOW_MAX &&
                   SCRATCH_SIZE >= WITAN_CONTRACT_VALUE_SIZE_MAX &&
                   SCRATCH_SIZE <= WITAN_VM_BYTES_SIZE_MAX,
               "host results fit the scratch and a VM value");

struct contract_runtime {
    vm_exec *exec;
    vm_host host;
    /* The run in progress (NULL between runs). */
    const struct contract_call *call;
    struct contract_outcome *out;
    int fatal;                 /* a state callback's error */
    Witan__HostError host_error;
    bool usage_known;
    uint32_t count, bytes;     /* storage usage including held writes */
    uint8_t *scratch;          /* a bytes result, valid until the next call */
};

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* --- exact rescaling ------------------------------------------------------- */

typedef __int128 i128;

static const int64_t pow10_table[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
    100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
    1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
    1000000000000000000LL};

/* num / den rounded to nearest, halves away from zero; den > 0. */
static i128 div_round(i128 num, i128 den)
{
    i128 mag = num < 0 ? -num : num;
    i128 q = (mag + den / 2) / den;
    /* den / 2 rounds down for odd den, which never has an exact half */
    if ((den & 1) == 0 && (mag % den) * 2 == den)
        q = mag / den + 1;
    return num < 0 ? -q : q;
}

static int fit(i128 v, int64_t *out)
{
    if (v > INT64_MAX || v < -(i128)INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* v * 2^-frac at scale s. */
static int from_fixed(int64_t v, uint32_t frac, uint32_t s, int64_t *out)
{
    i128 num = (i128)v * pow10_table[s];
    if (frac == 0)
        return fit(num, out);
    WITAN_ASSERT(frac < 64);
    return fit(div_round(num, (i128)1 << frac), out);
}

/* m * 10^-ms at scale s. */
static int from_decimal(int64_t m, uint32_t ms, uint32_t s, int64_t *out)
{
    if (ms > WITAN_DECIMAL_SCALE_MAX)
        return -1;
    if (s >= ms)
        return fit((i128)m * pow10_table[s - ms], out);
    return fit(div_round(m, pow10_table[ms - s]), out);
}

/* The float32 an order key stands for (models.md section 9), exactly:
 * significand * 2^exponent, at scale s. */
static int from_float32_key(int64_t key, uint32_t s, int64_t *out)
{
    int64_t r = key < 0 ? -key : key;
    if (r > 0x7f7fffff) /* infinities and NaNs never come from a decimal */
        return -1;
    int32_t e = (int32_t)(r >> 23);
    i128 sig = r & 0x7fffff;
    int32_t exp2;
    if (e == 0) {
        exp2 = -149;
    } else {
        sig += 1 << 23;
        exp2 = e - 150;
    }
    i128 num = sig * pow10_table[s]; /* below 2^84 */
    if (key < 0)
        num = -num;
    if (exp2 >= 0) {
        if (exp2 > 40 && num != 0)
            return -1; /* 2^24 * 2^40 already passes int64 */
        return fit(num * ((i128)1 << exp2), out);
    }
    if (exp2 < -100)
        return fit(0, out); /* |num| < 2^84: far below one half */
    return fit(div_round(num, (i128)1 << -exp2), out);
}

/* --- host functions ---------------------------------------------------------- */

#define RT(ctx) ((contract_runtime *)(ctx))

static int fail(contract_runtime *rt, Witan__HostError e)
{
    rt->host_error = e;
    return WITAN_EINVAL;
}

static int need_prediction(contract_runtime *rt)
{
    return rt->call->prediction ? 0 : fail(rt, WITAN__HOST_ERROR__HOST_ERROR_NO_PREDICTION);
}

static vm_value out_bytes(const void *p, uint32_t n)
{
    /* The VM copies a result before anything else runs; an empty result
     * still needs a pointer. */
    static const uint8_t empty[1];
    return vm_bytes(n ? p : empty, n);
}

static int scale_arg(contract_runtime *rt, const vm_value *v, uint32_t *s)
{
    if (v->i < 0 || v->i > WITAN_DECIMAL_SCALE_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    *s = (uint32_t)v->i;
    return 0;
}

static int h_pred_status(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e)
        *r = vm_int(RT(ctx)->call->prediction->status);
    return e;
}

static int h_pred_model(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e) {
        const Witan__PredictionRecord *p = RT(ctx)->call->prediction;
        *r = out_bytes(p->model_hash.data, (uint32_t)p->model_hash.len);
    }
    return e;
}

static int h_pred_subject(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e) {
        const char *s = RT(ctx)->call->prediction->subject;
        *r = out_bytes(s, (uint32_t)strlen(s));
    }
    return e;
}

static int h_pred_label(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e)
        *r = vm_int((int64_t)RT(ctx)->call->prediction->label);
    return e;
}

static int h_pred_computed(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e)
        *r = vm_int(RT(ctx)->call->prediction->computed ? 1 : 0);
    return e;
}

static size_t output_count(const Witan__PredictionRecord *p)
{
    return p->computed ? p->n_outputs : p->n_posted_outputs;
}

static size_t input_count(const Witan__PredictionRecord *p)
{
    return p->computed ? p->n_inputs : p->n_posted_inputs;
}

static int h_pred_output_count(void *ctx, const vm_value *a, uint32_t n,
                               vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e)
        *r = vm_int((int64_t)output_count(RT(ctx)->call->prediction));
    return e;
}

static int h_pred_input_count(void *ctx, const vm_value *a, uint32_t n,
                              vm_value *r)
{
    (void)a, (void)n;
    int e = need_prediction(RT(ctx));
    if (!e)
        *r = vm_int((int64_t)input_count(RT(ctx)->call->prediction));
    return e;
}

static int h_pred_output(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    uint32_t s;
    int e = need_prediction(rt);
    if (e || (e = scale_arg(rt, &a[1], &s)))
        return e;
    const Witan__PredictionRecord *p = rt->call->prediction;
    if (a[0].i < 0 || (uint64_t)a[0].i >= output_count(p))
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    size_t k = (size_t)a[0].i;
    int64_t v;
    int bad = p->computed
                  ? from_fixed(p->outputs[k], p->output_frac_bits, s, &v)
                  : from_decimal(p->posted_outputs[k]->mantissa,
                                 p->posted_outputs[k]->scale, s, &v);
    if (bad)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_RANGE);
    *r = vm_int(v);
    return 0;
}

static int h_pred_input(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    uint32_t s;
    int e = need_prediction(rt);
    if (e || (e = scale_arg(rt, &a[1], &s)))
        return e;
    const Witan__PredictionRecord *p = rt->call->prediction;
    if (a[0].i < 0 || (uint64_t)a[0].i >= input_count(p))
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    size_t k = (size_t)a[0].i;
    int64_t v;
    int bad;
    if (!p->computed) {
        bad = from_decimal(p->posted_inputs[k]->mantissa,
                           p->posted_inputs[k]->scale, s, &v);
    } else if (p->input_encoding == 1) { /* model.proto INPUT_FLOAT32_ORDER */
        bad = from_float32_key(p->inputs[k], s, &v);
    } else {
        uint32_t f = k < p->n_inputs_frac_bits ? p->inputs_frac_bits[k]
                                               : p->input_frac_bits;
        bad = f > 62 || from_fixed(p->inputs[k], f, s, &v);
    }
    if (bad)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_RANGE);
    *r = vm_int(v);
    return 0;
}

/* Every input's attestation hash, 32 bytes each in input order (zeros
 * where an input came from none). */
static int h_pred_input_txs(void *ctx, const vm_value *a, uint32_t n,
                            vm_value *r)
{
    (void)a, (void)n;
    contract_runtime *rt = RT(ctx);
    int e = need_prediction(rt);
    if (e)
        return e;
    const Witan__PredictionRecord *p = rt->call->prediction;
    size_t count = p->n_input_txs < SCRATCH_SIZE / WITAN_HASH_SIZE
                       ? p->n_input_txs
                       : SCRATCH_SIZE / WITAN_HASH_SIZE;
    memset(rt->scratch, 0, count * WITAN_HASH_SIZE);
    for (size_t i = 0; i < count; i++)
        if (p->input_txs[i].len == WITAN_HASH_SIZE)
            memcpy(rt->scratch + i * WITAN_HASH_SIZE, p->input_txs[i].data,
                   WITAN_HASH_SIZE);
    *r = out_bytes(rt->scratch, (uint32_t)(count * WITAN_HASH_SIZE));
    return 0;
}

/* A bytes argument as a C string of at most max bytes, without NUL. */
static bool text_arg(const vm_value *v, size_t max, bool may_be_empty,
                     char *buf)
{
    if (v->size > max || (!may_be_empty && v->size == 0))
        return false;
    for (uint32_t i = 0; i < v->size; i++)
        if (v->bytes[i] < 0x20 || v->bytes[i] == 0x7f)
            return false;
    memcpy(buf, v->bytes, v->size);
    buf[v->size] = 0;
    return true;
}

/* The feed, subject and value names of feed_latest and feed_window. */
static int feed_names(contract_runtime *rt, const vm_value *a, char *feed,
                      char *subject, char *value)
{
    if (!text_arg(&a[0], WITAN_FEED_SIZE_MAX, false, feed) ||
        !text_arg(&a[1], WITAN_SUBJECT_SIZE_MAX, false, subject) ||
        !text_arg(&a[2], WITAN_VALUE_NAME_SIZE_MAX, false, value))
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    for (const char *c = feed; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '/' || *c == '.' || *c == '_' || *c == '-'))
            return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    return 0;
}

/* a[0..2]: feed, subject, value. */
static int read_feed(contract_runtime *rt, const vm_value *a, uint32_t want,
                     uint32_t s, int64_t *vals, uint32_t *found)
{
    char feed[WITAN_FEED_SIZE_MAX + 1], subject[WITAN_SUBJECT_SIZE_MAX + 1],
        value[WITAN_VALUE_NAME_SIZE_MAX + 1];
    int e = feed_names(rt, a, feed, subject, value);
    if (e)
        return e;
    int64_t m[WITAN_MODEL_WINDOW_MAX];
    uint32_t sc[WITAN_MODEL_WINDOW_MAX];
    const struct contract_state *st = rt->call->state;
    e = st->feed(st->ctx, feed, subject, value, want, m, sc, found);
    if (e) {
        rt->fatal = e;
        return e;
    }
    WITAN_ASSERT(*found <= want);
    for (uint32_t i = 0; i < *found; i++)
        if (from_decimal(m[i], sc[i], s, &vals[i]))
            return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_RANGE);
    return 0;
}

static int h_feed_latest(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    uint32_t s, found;
    int64_t v;
    int e = scale_arg(rt, &a[0], &s);
    if (e || (e = read_feed(rt, a + 1, 1, s, &v, &found)))
        return e;
    if (found == 0)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_NOT_FOUND);
    *r = vm_int(v);
    return 0;
}

static int h_feed_window(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    uint32_t s, found;
    int64_t v[WITAN_MODEL_WINDOW_MAX];
    if (a[3].i < 1 || a[3].i > WITAN_MODEL_WINDOW_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    int e = scale_arg(rt, &a[4], &s);
    if (e || (e = read_feed(rt, a, (uint32_t)a[3].i, s, v, &found)))
        return e;
    for (uint32_t i = 0; i < found; i++)
        put_be64(rt->scratch + 8 * i, (uint64_t)v[i]);
    *r = out_bytes(rt->scratch, 8 * found);
    return 0;
}

/* Integer square root: the largest r with r * r <= v. */
static uint64_t isqrt(uint64_t v)
{
    uint64_t r = 0;
    for (int b = 31; b >= 0; b--) {
        uint64_t t = r | (uint64_t)1 << b;
        if (t * t <= v)
            r = t;
    }
    return r;
}

/* sum / (count * 2^shift) at scale s, rounded half up; false on
 * overflow. count < 2^64 and shift <= 62 keep the divisor below 2^126. */
static bool mean_at(unsigned __int128 sum, uint64_t count, uint32_t shift,
                    uint32_t s, int64_t *out)
{
    unsigned __int128 p = (unsigned __int128)pow10_table[s];
    if (count == 0 || shift > 62 || sum > ~(unsigned __int128)0 / p)
        return false;
    unsigned __int128 num = sum * p, den = (unsigned __int128)count << shift;
    unsigned __int128 q = num / den, rem = num % den;
    q += 2 * rem >= den;
    if (q > INT64_MAX)
        return false;
    *out = (int64_t)q;
    return true;
}

/* model_score(what, scale, model): 1 count, 2 mean squared error, 3 mean
 * absolute error, 4-6 the same over the recent window, 7 and 8 the root
 * mean squared error (all time, recent) as floor(sqrt(MSE at scale 2s)). */
static int h_model_score(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    uint32_t s;
    int e = scale_arg(rt, &a[1], &s);
    if (e)
        return e;
    if (a[2].size != WITAN_HASH_SIZE || a[0].i < 1 || a[0].i > 8 ||
        (a[0].i >= 7 && s > WITAN_DECIMAL_SCALE_MAX / 2))
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    struct contract_scorecard c;
    const struct contract_state *st = rt->call->state;
    e = st->scorecard(st->ctx, a[2].bytes, &c);
    if (e == WITAN_ENOTFOUND) { /* nothing resolved yet: counts are 0 */
        memset(&c, 0, sizeof c);
        e = 0;
    }
    if (e) {
        rt->fatal = e;
        return e;
    }
    bool recent = a[0].i == 4 || a[0].i == 5 || a[0].i == 6 || a[0].i == 8;
    uint64_t count = recent ? c.recent_count : c.count;
    unsigned __int128 sq = recent ? c.recent_sum_sq : c.sum_sq;
    unsigned __int128 ab = recent ? c.recent_sum_abs : c.sum_abs;
    int64_t v = 0;
    bool ok = true;
    switch (a[0].i) {
    case 1:
    case 4:
        v = (int64_t)count;
        break;
    case 2:
    case 5:
        ok = mean_at(sq, count, 2 * c.frac_bits, s, &v);
        break;
    case 3:
    case 6:
        ok = mean_at(ab, count, c.frac_bits, s, &v);
        break;
    default:
        ok = mean_at(sq, count, 2 * c.frac_bits, 2 * s, &v);
        v = ok ? (int64_t)isqrt((uint64_t)v) : 0;
    }
    if (!ok)
        return fail(rt, count ? WITAN__HOST_ERROR__HOST_ERROR_RANGE
                              : WITAN__HOST_ERROR__HOST_ERROR_NOT_FOUND);
    *r = vm_int(v);
    return 0;
}

/* --- storage, held until the run ends ------------------------------------ */

static int key_arg(contract_runtime *rt, const vm_value *k)
{
    if (k->size == 0 || k->size > WITAN_CONTRACT_KEY_SIZE_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_STORAGE_LIMIT);
    return 0;
}

/* The run's latest write of key, or NULL. */
static struct contract_write *held(contract_runtime *rt, const vm_value *k)
{
    struct contract_outcome *o = rt->out;
    for (uint32_t i = o->write_count; i-- > 0;)
        if (o->writes[i].key_size == k->size &&
            memcmp(o->writes[i].key, k->bytes, k->size) == 0)
            return &o->writes[i];
    return NULL;
}

/* Looks key up: the run's own writes first, then committed state. On
 * found, *value is the value (valid until the next host call) and *size
 * its size. */
static int lookup(contract_runtime *rt, const vm_value *k, bool *found,
                  const uint8_t **value, uint32_t *size)
{
    const struct contract_write *w = held(rt, k);
    if (w) {
        *found = !w->del;
        *value = w->value;
        *size = w->size;
        return 0;
    }
    uint8_t *v;
    size_t vs;
    const struct contract_state *st = rt->call->state;
    int e = st->get(st->ctx, k->bytes, k->size, &v, &vs);
    if (e == WITAN_ENOTFOUND) {
        *found = false;
        return 0;
    }
    if (e) {
        rt->fatal = e;
        return e;
    }
    *found = true;
    WITAN_ASSERT(vs <= WITAN_CONTRACT_VALUE_SIZE_MAX);
    memcpy(rt->scratch, v, vs);
    free(v);
    *value = rt->scratch;
    *size = (uint32_t)vs;
    return 0;
}

static int h_store_get(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    bool found;
    const uint8_t *v;
    uint32_t vs;
    int e = key_arg(rt, &a[0]);
    if (e || (e = lookup(rt, &a[0], &found, &v, &vs)))
        return e;
    *r = out_bytes(v, found ? vs : 0);
    return 0;
}

/* Holds a put (value != NULL) or a delete, keeping the usage counts. */
static int hold_write(contract_runtime *rt, const vm_value *k,
                      const vm_value *value)
{
    struct contract_outcome *o = rt->out;
    int e = key_arg(rt, k);
    if (e)
        return e;
    if (value && value->size > WITAN_CONTRACT_VALUE_SIZE_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_STORAGE_LIMIT);
    if (!rt->usage_known) {
        const struct contract_state *st = rt->call->state;
        e = st->usage(st->ctx, &rt->count, &rt->bytes);
        if (e) {
            rt->fatal = e;
            return e;
        }
        rt->usage_known = true;
    }
    bool found;
    const uint8_t *old;
    uint32_t old_size;
    if ((e = lookup(rt, k, &found, &old, &old_size)))
        return e;
    int64_t count = rt->count, bytes = rt->bytes;
    if (found) {
        count--;
        bytes -= k->size + old_size;
    }
    if (value) {
        count++;
        bytes += k->size + value->size;
    }
    WITAN_ASSERT(count >= 0 && bytes >= 0);
    if (count > WITAN_CONTRACT_STORAGE_COUNT_MAX ||
        bytes > WITAN_CONTRACT_STORAGE_SIZE_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_STORAGE_LIMIT);
    if (o->write_count == WITAN_CONTRACT_RUN_WRITE_COUNT_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_RECORD_LIMIT);
    struct contract_write *w = &o->writes[o->write_count];
    memset(w, 0, sizeof *w);
    memcpy(w->key, k->bytes, k->size);
    w->key_size = k->size;
    w->del = value == NULL;
    if (value && value->size) {
        w->value = malloc(value->size);
        if (!w->value) {
            rt->fatal = WITAN_ENOMEM;
            return WITAN_ENOMEM;
        }
        memcpy(w->value, value->bytes, value->size);
        w->size = value->size;
    }
    o->write_count++;
    rt->count = (uint32_t)count;
    rt->bytes = (uint32_t)bytes;
    return 0;
}

static int h_store_put(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n, (void)r;
    return hold_write(RT(ctx), &a[0], &a[1]);
}

static int h_store_del(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n, (void)r;
    return hold_write(RT(ctx), &a[0], NULL);
}

/* --- decisions and events ---------------------------------------------------- */

static uint8_t *dup_bytes(contract_runtime *rt, const vm_value *v)
{
    uint8_t *p = malloc(v->size ? v->size : 1);
    if (!p)
        rt->fatal = WITAN_ENOMEM;
    else if (v->size)
        memcpy(p, v->bytes, v->size);
    return p;
}

/* Fills rec from (kind, subject or NULL, values, data). */
static int make_record(contract_runtime *rt, struct contract_record *rec,
                       const vm_value *kind, const vm_value *subject,
                       const vm_value *values, const vm_value *data)
{
    if (kind->size == 0 || kind->size > WITAN_DECISION_KIND_SIZE_MAX ||
        (subject && subject->size > WITAN_DECISION_SUBJECT_SIZE_MAX) ||
        values->size % 8 != 0 ||
        values->size / 8 > WITAN_DECISION_VALUE_COUNT_MAX ||
        data->size > WITAN_DECISION_DATA_SIZE_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT);
    memset(rec, 0, sizeof *rec);
    rec->value_count = values->size / 8;
    for (uint32_t i = 0; i < rec->value_count; i++)
        rec->values[i] = (int64_t)get_be64(values->bytes + 8 * i);
    rec->kind = dup_bytes(rt, kind);
    rec->kind_size = kind->size;
    rec->data = dup_bytes(rt, data);
    rec->data_size = data->size;
    if (subject) {
        rec->subject = dup_bytes(rt, subject);
        rec->subject_size = subject->size;
    }
    return rt->fatal;
}

static void record_free(struct contract_record *rec)
{
    free(rec->kind);
    free(rec->subject);
    free(rec->data);
}

static int h_decide(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n;
    contract_runtime *rt = RT(ctx);
    struct contract_outcome *o = rt->out;
    if (o->decision_count == WITAN_CONTRACT_RUN_DECISION_COUNT_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_RECORD_LIMIT);
    struct contract_record *rec = &o->decisions[o->decision_count];
    int e = make_record(rt, rec, &a[0], &a[1], &a[2], &a[3]);
    if (e) {
        record_free(rec);
        return e;
    }
    o->decision_count++;
    /* its id: contract || be64(height) || be32(sequence in the block) */
    uint8_t *id = rt->scratch;
    memcpy(id, rt->call->contract_id, WITAN_HASH_SIZE);
    put_be64(id + WITAN_HASH_SIZE, rt->call->height);
    uint32_t seq = rt->call->decision_seq + o->decision_count - 1;
    for (int i = 0; i < 4; i++)
        id[WITAN_HASH_SIZE + 8 + i] = (uint8_t)(seq >> (24 - 8 * i));
    *r = out_bytes(id, WITAN_HASH_SIZE + 12);
    return 0;
}

static int h_emit(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)n, (void)r;
    contract_runtime *rt = RT(ctx);
    struct contract_outcome *o = rt->out;
    if (o->event_count == WITAN_CONTRACT_RUN_EVENT_COUNT_MAX)
        return fail(rt, WITAN__HOST_ERROR__HOST_ERROR_RECORD_LIMIT);
    struct contract_record *rec = &o->events[o->event_count];
    int e = make_record(rt, rec, &a[0], NULL, &a[1], &a[2]);
    if (e) {
        record_free(rec);
        return e;
    }
    o->event_count++;
    return 0;
}

/* --- the block and the run ---------------------------------------------------- */

static int h_block_height(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    *r = vm_int((int64_t)RT(ctx)->call->height);
    return 0;
}

static int h_block_time(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    *r = vm_int(RT(ctx)->call->time_ms);
    return 0;
}

static int h_self_id(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    *r = out_bytes(RT(ctx)->call->contract_id, WITAN_HASH_SIZE);
    return 0;
}

static int h_caller(void *ctx, const vm_value *a, uint32_t n, vm_value *r)
{
    (void)a, (void)n;
    *r = out_bytes(RT(ctx)->call->caller, WITAN_ADDRESS_SIZE);
    return 0;
}

/* Part of the protocol: names, signatures and prices (contracts.md §4). */
static const vm_host_func host_funcs[] = {
    {"pred_status", "", 'i', 5, h_pred_status},
    {"pred_model", "", 'b', 5, h_pred_model},
    {"pred_subject", "", 'b', 5, h_pred_subject},
    {"pred_label", "", 'i', 5, h_pred_label},
    {"pred_computed", "", 'i', 5, h_pred_computed},
    {"pred_output_count", "", 'i', 5, h_pred_output_count},
    {"pred_output", "ii", 'i', 10, h_pred_output},
    {"pred_input_count", "", 'i', 5, h_pred_input_count},
    {"pred_input", "ii", 'i', 10, h_pred_input},
    {"pred_input_txs", "", 'b', 5, h_pred_input_txs},
    {"feed_latest", "ibbb", 'i', 200, h_feed_latest},
    {"feed_window", "bbbii", 'b', 1000, h_feed_window},
    {"store_get", "b", 'b', 100, h_store_get},
    {"store_put", "bb", 'v', 500, h_store_put},
    {"store_del", "b", 'v', 200, h_store_del},
    {"decide", "bbbb", 'b', 1000, h_decide},
    {"emit", "bbb", 'v', 500, h_emit},
    {"model_score", "iib", 'i', 200, h_model_score},
    {"block_height", "", 'i', 5, h_block_height},
    {"block_time", "", 'i', 5, h_block_time},
    {"self_id", "", 'b', 5, h_self_id},
    {"caller", "", 'b', 5, h_caller},
};

const vm_host_func *contract_host_funcs(uint32_t *count)
{
    *count = WITAN_ARRAY_COUNT(host_funcs);
    return host_funcs;
}

/* --- runtime ------------------------------------------------------------------ */

/* Room for the largest bytes a host function hands back: a window of
 * values or a stored value. */

int contract_runtime_new(contract_runtime **out)
{
    contract_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return WITAN_ENOMEM;
    rt->scratch = malloc(SCRATCH_SIZE);
    if (!rt->scratch || vm_exec_new(&rt->exec)) {
        contract_runtime_free(rt);
        return WITAN_ENOMEM;
    }
    rt->host = (vm_host){host_funcs, WITAN_ARRAY_COUNT(host_funcs), rt};
    *out = rt;
    return WITAN_OK;
}

void contract_runtime_free(contract_runtime *rt)
{
    if (!rt)
        return;
    vm_exec_free(rt->exec);
    free(rt->scratch);
    free(rt);
}

int contract_module_load(contract_runtime *rt, const uint8_t *bytes,
                         size_t size, vm_module **out, vm_verify_error *err)
{
    vm_host verify = {host_funcs, WITAN_ARRAY_COUNT(host_funcs), NULL};
    vm_module *m;
    int e = vm_module_load(bytes, size, rt ? &rt->host : &verify, &m, err);
    if (e)
        return e;
    if (rt)
        *out = m;
    else
        vm_module_free(m);
    return WITAN_OK;
}

int contract_module_verify(const uint8_t *bytes, size_t size,
                           bool with_trigger, char *why, size_t why_size)
{
    vm_host verify = {host_funcs, WITAN_ARRAY_COUNT(host_funcs), NULL};
    vm_module *m;
    vm_verify_error ve = {0, 0};
    int e = vm_module_load(bytes, size, &verify, &m, &ve);
    if (e == WITAN_EVERIFY) {
        snprintf(why, why_size, "module refused at byte %u: %s",
                 (unsigned)ve.offset, vm_verify_reason_text(ve.reason));
        return e;
    }
    if (e)
        return e;
    uint32_t f;
    if (with_trigger &&
        contract_entry(m, CONTRACT_ENTRY_PREDICTION, "", &f) != 0) {
        snprintf(why, why_size,
                 "a contract with triggers exports %s taking no parameters",
                 CONTRACT_ENTRY_PREDICTION);
        e = WITAN_EINVAL;
    }
    vm_module_free(m);
    return e;
}

int contract_entry(const vm_module *m, const char *name, const char *types,
                   uint32_t *func)
{
    int e = vm_module_export(m, name, func);
    if (e)
        return WITAN_ENOTFOUND;
    char params[WITAN_VM_PARAM_COUNT_MAX + 1], result;
    e = vm_module_signature(m, *func, params, &result);
    if (e)
        return e;
    return strcmp(params, types) == 0 ? WITAN_OK : WITAN_EINVAL;
}

static void discard(struct contract_outcome *o)
{
    for (uint32_t i = 0; i < o->write_count; i++)
        free(o->writes[i].value);
    for (uint32_t i = 0; i < o->decision_count; i++)
        record_free(&o->decisions[i]);
    for (uint32_t i = 0; i < o->event_count; i++)
        record_free(&o->events[i]);
    o->write_count = o->decision_count = o->event_count = 0;
}

void contract_outcome_free(struct contract_outcome *o)
{
    discard(o);
    free(o->result_bytes);
    o->result_bytes = NULL;
}

int contract_run(contract_runtime *rt, const struct contract_call *c,
                 struct contract_outcome *out)
{
    memset(out, 0, sizeof *out);
    rt->call = c;
    rt->out = out;
    rt->fatal = 0;
    rt->host_error = WITAN__HOST_ERROR__HOST_ERROR_NONE;
    rt->usage_known = false;
    int e = vm_call(rt->exec, c->module, c->func, c->args, c->arg_count,
                    c->gas, &out->res);
    rt->call = NULL;
    rt->out = NULL;
    if (rt->fatal) {
        discard(out);
        return rt->fatal;
    }
    if (e == 0) {
        out->status = WITAN__RUN_STATUS__RUN_OK;
        out->storage_count = rt->count;
        out->storage_bytes = rt->bytes;
        if (out->res.value.type == VM_TYPE_BYTES) {
            uint32_t n = out->res.value.size;
            out->result_bytes = malloc(n ? n : 1);
            if (!out->result_bytes) {
                discard(out);
                return WITAN_ENOMEM;
            }
            if (n)
                memcpy(out->result_bytes, out->res.value.bytes, n);
        }
        return WITAN_OK;
    }
    /* A trap: nothing the run held back takes effect. */
    discard(out);
    if (e == WITAN_EGAS) {
        out->status = WITAN__RUN_STATUS__RUN_OUT_OF_GAS;
        return WITAN_OK;
    }
    if (e == WITAN_ETRAP) {
        out->status = WITAN__RUN_STATUS__RUN_TRAP;
        if (out->res.trap == VM_TRAP_HOST)
            out->host_error = rt->host_error;
        return WITAN_OK;
    }
    /* The ledger checked the entry and arguments before calling. */
    return e;
}

/* --- triggers ---------------------------------------------------------------------- */

/* Sign of value - threshold for a computed output o in Q.f. */
static int cmp_fixed(int64_t o, uint32_t f, int64_t m, uint32_t s)
{
    /* A multiplication, not m << f: a threshold may be negative, and
     * shifting a negative value left is undefined. */
    i128 a = (i128)o * pow10_table[s], b = (i128)m * ((i128)1 << f);
    return (a > b) - (a < b);
}

static int cmp_decimal(int64_t m1, uint32_t s1, int64_t m2, uint32_t s2)
{
    i128 a = (i128)m1 * pow10_table[s2], b = (i128)m2 * pow10_table[s1];
    return (a > b) - (a < b);
}

bool contract_trigger_matches(const Witan__ContractTrigger *t,
                              const Witan__PredictionRecord *p)
{
    if (p->status != WITAN__PREDICTION_STATUS__PREDICTION_OK)
        return false;
    if ((t->kind == WITAN__TRIGGER_KIND__TRIGGER_COMPUTED && !p->computed) ||
        (t->kind == WITAN__TRIGGER_KIND__TRIGGER_POSTED && p->computed))
        return false;
    switch (t->filter) {
    case WITAN__FILTER_OP__FILTER_NONE:
        return true;
    case WITAN__FILTER_OP__FILTER_LABEL_EQUALS:
        return p->label == t->label;
    case WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE:
    case WITAN__FILTER_OP__FILTER_OUTPUT_BELOW: {
        if (t->output >= output_count(p))
            return false;
        int c;
        if (p->computed) {
            if (p->output_frac_bits > 62)
                return false;
            c = cmp_fixed(p->outputs[t->output], p->output_frac_bits,
                          t->threshold_mantissa, t->threshold_scale);
        } else {
            const Witan__NamedValue *v = p->posted_outputs[t->output];
            if (v->scale > WITAN_DECIMAL_SCALE_MAX)
                return false;
            c = cmp_decimal(v->mantissa, v->scale, t->threshold_mantissa,
                            t->threshold_scale);
        }
        return t->filter == WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE ? c > 0
                                                                  : c < 0;
    }
    default:
        return false;
    }
}

bool contract_trigger_ok(const Witan__ContractTrigger *t, char *why,
                         size_t why_size)
{
    const char *bad = NULL;
    if (t->model_hash.len != WITAN_HASH_SIZE)
        bad = "names a 32-byte model hash";
    else if (t->kind < WITAN__TRIGGER_KIND__TRIGGER_COMPUTED ||
             t->kind > WITAN__TRIGGER_KIND__TRIGGER_ANY)
        bad = "has a kind of computed, posted or any";
    else if ((unsigned)t->filter > WITAN__FILTER_OP__FILTER_LABEL_EQUALS)
        bad = "has an unknown filter";
    else if ((t->filter == WITAN__FILTER_OP__FILTER_OUTPUT_ABOVE ||
              t->filter == WITAN__FILTER_OP__FILTER_OUTPUT_BELOW)
                 ? (t->threshold_scale > WITAN_DECIMAL_SCALE_MAX || t->label)
                 : (t->output || t->threshold_mantissa || t->threshold_scale ||
                    (t->filter != WITAN__FILTER_OP__FILTER_LABEL_EQUALS &&
                     t->label)))
        bad = "sets a field its filter does not use, or a scale over 18";
    if (bad && why_size)
        snprintf(why, why_size, "trigger %s", bad);
    return bad == NULL;
}
