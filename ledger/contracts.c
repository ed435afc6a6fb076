/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decision contracts in the ledger (spec/contracts.md): the rules of
 * DeployContract, RetireContract and CallContract, the triggers that run
 * contracts right after a prediction is written, and the records a run
 * leaves (runs, decisions, events, contract storage). contracts/ runs the
 * VM and holds a run's effects back; this file reads state for it and
 * writes what a run that returned did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contracts/contracts.h"
#include "ledger/internal.h"

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

/* --- stateless rules ------------------------------------------------------- */

/* A contract name: the model name rule (printable, 1..64). */
int contracts_check_deploy(const Witan__DeployContract *d, char *why,
                           size_t why_size)
{
    if (!ledger_text_ok(d->name, WITAN_NAME_SIZE_MAX, false)) {
        WHY("contract name must be 1 to %d printable characters",
            WITAN_NAME_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (!ledger_text_ok(d->language, WITAN_CONTRACT_LANGUAGE_SIZE_MAX, true) ||
        !ledger_text_ok(d->compiler, WITAN_CONTRACT_COMPILER_SIZE_MAX, true)) {
        WHY("language (at most %d) and compiler (at most %d) must be "
            "printable text",
            WITAN_CONTRACT_LANGUAGE_SIZE_MAX, WITAN_CONTRACT_COMPILER_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (d->module.len > WITAN_VM_MODULE_SIZE_MAX) {
        WHY("module is %zu bytes; the limit is %d", d->module.len,
            WITAN_VM_MODULE_SIZE_MAX);
        return WITAN_ELIMIT;
    }
    if (d->gas_limit == 0 || d->gas_limit > WITAN_GAS_MAX) {
        WHY("gas_limit must be 1 to %llu", (unsigned long long)WITAN_GAS_MAX);
        return WITAN_EINVAL;
    }
    if (d->n_triggers > WITAN_CONTRACT_TRIGGER_COUNT_MAX) {
        WHY("at most %d triggers", WITAN_CONTRACT_TRIGGER_COUNT_MAX);
        return WITAN_ELIMIT;
    }
    for (size_t i = 0; i < d->n_triggers; i++) {
        char tw[160];
        if (!contract_trigger_ok(d->triggers[i], tw, sizeof tw)) {
            WHY("trigger %zu: %s", i, tw);
            return WITAN_EINVAL;
        }
    }
    if (d->replaces.len != 0 && d->replaces.len != WITAN_HASH_SIZE) {
        WHY("replaces names a 32-byte contract id");
        return WITAN_EINVAL;
    }
    return contract_module_verify(d->module.data, d->module.len,
                                  d->n_triggers > 0, why, why_size);
}

static bool entry_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WITAN_VM_NAME_SIZE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '.')))
            return false;
    }
    return true;
}

int contracts_check_call(const Witan__CallContract *c, char *why,
                         size_t why_size)
{
    if (c->contract.len != WITAN_HASH_SIZE) {
        WHY("a call names a 32-byte contract id");
        return WITAN_EINVAL;
    }
    if (!entry_name_ok(c->entry)) {
        WHY("entry must be an identifier of 1 to %d bytes",
            WITAN_VM_NAME_SIZE_MAX);
        return WITAN_EINVAL;
    }
    if (c->n_args > WITAN_VM_PARAM_COUNT_MAX) {
        WHY("at most %d arguments", WITAN_VM_PARAM_COUNT_MAX);
        return WITAN_ELIMIT;
    }
    for (size_t i = 0; i < c->n_args; i++)
        if (c->args[i]->value_case == WITAN__CONTRACT_ARG__VALUE__NOT_SET ||
            (c->args[i]->value_case == WITAN__CONTRACT_ARG__VALUE_BYTES &&
             c->args[i]->bytes.len > WITAN_VM_BYTES_SIZE_MAX)) {
            WHY("argument %zu has no value, or bytes over %d", i,
                WITAN_VM_BYTES_SIZE_MAX);
            return WITAN_EINVAL;
        }
    if (c->gas_limit > WITAN_GAS_MAX) {
        WHY("gas_limit must be at most %llu",
            (unsigned long long)WITAN_GAS_MAX);
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

int contracts_check_retire(const Witan__RetireContract *r, char *why,
                           size_t why_size)
{
    if (r->contract.len != WITAN_HASH_SIZE) {
        WHY("retire names a 32-byte contract id");
        return WITAN_EINVAL;
    }
    return WITAN_OK;
}

/* --- records ------------------------------------------------------------------ */

static int contract_get(store_txn *txn, const uint8_t id[WITAN_HASH_SIZE],
                        Witan__ContractRecord **out)
{
    const void *v;
    size_t vs;
    *out = NULL;
    int err = store_get(txn, STORE_CONTRACTS, id, WITAN_HASH_SIZE, &v, &vs);
    if (err)
        return err;
    *out = witan__contract_record__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

static int contract_put(store_txn *txn, const Witan__ContractRecord *c)
{
    return store_message(txn, STORE_CONTRACTS, c->id.data, WITAN_HASH_SIZE,
                       &c->base);
}

/* Retired (or replaced) at this height or before. */
static bool retired_at(const Witan__ContractRecord *c, uint64_t height)
{
    return c->retired && height >= c->retired_height;
}

void contracts_cache_clear(ledger *l)
{
    for (size_t i = 0; i < WITAN_CONTRACT_CACHE_COUNT; i++) {
        vm_module_free(l->contract_cache[i].module);
        l->contract_cache[i].module = NULL;
        if (l->contract_cache[i].record)
            witan__contract_record__free_unpacked(l->contract_cache[i].record,
                                                  NULL);
        l->contract_cache[i].record = NULL;
    }
}

/* A contract's loaded module and its record without the large parts,
 * cached by id: both are immutable but for retirement, which the trigger
 * index and named_contract read from state, never from here. *rec may be
 * NULL. The cache is filled from state, so a contract written by a block
 * that was then undone is never reached: ids come from state first. */
static int contract_of(ledger *l, store_txn *txn, const uint8_t *id,
                       vm_module **mod, const Witan__ContractRecord **rec)
{
    for (size_t i = 0; i < WITAN_CONTRACT_CACHE_COUNT; i++)
        if (l->contract_cache[i].module &&
            memcmp(l->contract_cache[i].id, id, WITAN_HASH_SIZE) == 0) {
            *mod = l->contract_cache[i].module;
            if (rec)
                *rec = l->contract_cache[i].record;
            return WITAN_OK;
        }
    Witan__ContractRecord *c;
    int err = contract_get(txn, id, &c);
    if (err)
        return err == WITAN_ENOTFOUND ? WITAN_EDBCORRUPT : err;
    vm_module *m;
    vm_verify_error ve;
    if (contract_module_load(l->rt, c->module.data, c->module.len, &m, &ve)) {
        witan__contract_record__free_unpacked(c, NULL);
        return WITAN_EDBCORRUPT; /* verified when deployed */
    }
    /* the module is loaded; the texts are for auditors, not for runs */
    free(c->module.data);
    c->module = (ProtobufCBinaryData){0, NULL};
    free(c->source_map.data);
    c->source_map = (ProtobufCBinaryData){0, NULL};
    if (c->source != protobuf_c_empty_string)
        free(c->source);
    c->source = (char *)protobuf_c_empty_string;
    struct contract_cache_entry *e =
        &l->contract_cache[l->contract_cache_next++ % WITAN_CONTRACT_CACHE_COUNT];
    vm_module_free(e->module);
    if (e->record)
        witan__contract_record__free_unpacked(e->record, NULL);
    e->module = m;
    e->record = c;
    memcpy(e->id, id, WITAN_HASH_SIZE);
    *mod = m;
    if (rec)
        *rec = c;
    return WITAN_OK;
}

/* --- what a run reads ------------------------------------------------------------ */

struct run_ctx {
    store_txn *txn;
    const uint8_t *id;
};

static size_t state_key(const uint8_t *id, const uint8_t *key, size_t ks,
                        uint8_t *out)
{
    memcpy(out, id, WITAN_HASH_SIZE);
    if (ks)
        memcpy(out + WITAN_HASH_SIZE, key, ks);
    return WITAN_HASH_SIZE + ks;
}

static int st_get(void *ctx, const uint8_t *key, size_t ks, uint8_t **value,
                  size_t *size)
{
    struct run_ctx *rc = ctx;
    uint8_t k[WITAN_HASH_SIZE + WITAN_CONTRACT_KEY_SIZE_MAX];
    WITAN_ASSERT(ks >= 1 && ks <= WITAN_CONTRACT_KEY_SIZE_MAX);
    const void *v;
    size_t vs;
    int err = store_get(rc->txn, STORE_CONTRACT_STATE, k,
                        state_key(rc->id, key, ks, k), &v, &vs);
    if (err)
        return err;
    if (vs > WITAN_CONTRACT_VALUE_SIZE_MAX)
        return WITAN_EDBCORRUPT;
    *value = malloc(vs ? vs : 1);
    if (!*value)
        return WITAN_ENOMEM;
    memcpy(*value, v, vs);
    *size = vs;
    return WITAN_OK;
}

static int usage_get(store_txn *txn, const uint8_t *id, uint32_t *count,
                     uint32_t *bytes)
{
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_CONTRACT_STATE, id, WITAN_HASH_SIZE, &v, &vs);
    *count = *bytes = 0;
    if (err == WITAN_ENOTFOUND)
        return WITAN_OK;
    if (err)
        return err;
    if (vs != 8)
        return WITAN_EDBCORRUPT;
    *count = store_read_be32(v);
    *bytes = store_read_be32((const uint8_t *)v + 4);
    return WITAN_OK;
}

static int st_usage(void *ctx, uint32_t *count, uint32_t *bytes)
{
    struct run_ctx *rc = ctx;
    return usage_get(rc->txn, rc->id, count, bytes);
}

/* The n newest observations of feed/subject having `value` (latest
 * revision of each), looking back at most WITAN_CONTRACT_FEED_SCAN_MAX
 * observations. */
static int st_feed(void *ctx, const char *feed, const char *subject,
                   const char *value, uint32_t n, int64_t *mantissas,
                   uint32_t *scales, uint32_t *found)
{
    struct run_ctx *rc = ctx;
    uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX];
    size_t prefix_size = attest_key(feed, subject, 0, NULL, false, 0, prefix) - 8;
    uint8_t end[WITAN_STORE_KEY_SIZE_MAX + 1];
    memcpy(end, prefix, prefix_size);
    memset(end + prefix_size, 0xff, 8 + WITAN_ADDRESS_SIZE + 4 + 1);
    size_t end_size = prefix_size + 8 + WITAN_ADDRESS_SIZE + 4 + 1;
    *found = 0;
    store_cursor *c;
    int err = store_cursor_open(rc->txn, STORE_ATTESTATIONS, &c);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    uint8_t last[WITAN_STORE_KEY_SIZE_MAX];
    size_t last_size = 0, scanned = 0;
    err = store_cursor_seek(c, end, end_size, &k, &ks, &v, &vs);
    if (err == WITAN_ENOTFOUND)
        err = store_cursor_last(c, &k, &ks, &v, &vs);
    else if (!err)
        err = store_cursor_prev(c, &k, &ks, &v, &vs);
    for (; err == 0 && *found < n && scanned < WITAN_CONTRACT_FEED_SCAN_MAX;
         err = store_cursor_prev(c, &k, &ks, &v, &vs)) {
        if (ks < prefix_size + 4 || memcmp(k, prefix, prefix_size) != 0)
            break;
        size_t group = ks - 4; /* the key without its revision */
        if (group == last_size && memcmp(k, last, group) == 0)
            continue; /* an older revision of an observation already seen */
        memcpy(last, k, group);
        last_size = group;
        scanned++;
        Witan__AttestationRecord *r =
            witan__attestation_record__unpack(NULL, vs, v);
        if (!r) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        for (size_t i = 0; i < r->attest->n_values; i++)
            if (strcmp(r->attest->values[i]->name, value) == 0) {
                mantissas[*found] = r->attest->values[i]->mantissa;
                scales[*found] = r->attest->values[i]->scale;
                (*found)++;
                break;
            }
        witan__attestation_record__free_unpacked(r, NULL);
    }
    store_cursor_close(c);
    return err == WITAN_ENOTFOUND ? WITAN_OK : err;
}

static int st_scorecard(void *ctx, const uint8_t *model,
                        struct contract_scorecard *out)
{
    struct run_ctx *rc = ctx;
    return scores_card(rc->txn, model, out);
}

/* --- runs ----------------------------------------------------------------------- */

static int put_index(store_txn *txn, uint8_t tag, const uint8_t *text,
                     size_t size, const uint8_t *dkey, size_t dkey_size)
{
    uint8_t k[2 + 255 + WITAN_HASH_SIZE + 12];
    WITAN_ASSERT(size <= 255 && dkey_size <= WITAN_HASH_SIZE + 12);
    k[0] = tag;
    k[1] = (uint8_t)size;
    memcpy(k + 2, text, size);
    memcpy(k + 2 + size, dkey, dkey_size);
    return store_put(txn, STORE_DECISION_INDEX, k, 2 + size + dkey_size, "", 0);
}

/* Writes what a run that returned did: storage, decisions, events. */
static int commit_effects(ledger *l, store_txn *txn,
                          const Witan__ContractRecord *c,
                          const struct contract_outcome *o, uint64_t height,
                          const uint8_t *pkey, size_t pkey_size, uint32_t run,
                          Witan__ContractRun *rec)
{
    const uint8_t *id = c->id.data;
    int err = WITAN_OK;
    for (uint32_t i = 0; !err && i < o->write_count; i++) {
        const struct contract_write *w = &o->writes[i];
        uint8_t k[WITAN_HASH_SIZE + WITAN_CONTRACT_KEY_SIZE_MAX];
        size_t ks = state_key(id, w->key, w->key_size, k);
        if (w->del) {
            err = store_del(txn, STORE_CONTRACT_STATE, k, ks);
            if (err == WITAN_ENOTFOUND)
                err = WITAN_OK;
        } else {
            err = store_put(txn, STORE_CONTRACT_STATE, k, ks,
                            w->value ? (const void *)w->value : "", w->size);
        }
    }
    if (!err && o->write_count) {
        if (o->storage_count == 0) {
            err = store_del(txn, STORE_CONTRACT_STATE, id, WITAN_HASH_SIZE);
            if (err == WITAN_ENOTFOUND)
                err = WITAN_OK;
        } else {
            uint8_t u[8];
            store_be32(u, o->storage_count);
            store_be32(u + 4, o->storage_bytes);
            err = store_put(txn, STORE_CONTRACT_STATE, id, WITAN_HASH_SIZE, u,
                            sizeof u);
        }
    }
    rec->first_decision = l->decision_seq;
    for (uint32_t i = 0; !err && i < o->decision_count; i++) {
        const struct contract_record *r = &o->decisions[i];
        uint32_t seq = l->decision_seq++;
        Witan__Decision d = WITAN__DECISION__INIT;
        d.contract = c->id;
        d.contract_name = c->name;
        d.contract_version = c->version;
        d.kind = (ProtobufCBinaryData){r->kind_size, r->kind};
        d.subject = (ProtobufCBinaryData){r->subject_size, r->subject};
        d.n_values = r->value_count;
        d.values = (int64_t *)r->values;
        d.data = (ProtobufCBinaryData){r->data_size, r->data};
        d.height = height;
        d.time_ms = l->block_time_ms;
        d.sequence = seq;
        d.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)l->tx_hash};
        d.run = run;
        d.prediction = (ProtobufCBinaryData){pkey_size, (uint8_t *)pkey};
        uint8_t dk[WITAN_HASH_SIZE + 12];
        memcpy(dk, id, WITAN_HASH_SIZE);
        store_be64(dk + WITAN_HASH_SIZE, height);
        store_be32(dk + WITAN_HASH_SIZE + 8, seq);
        err = store_message(txn, STORE_DECISIONS, dk, sizeof dk, &d.base);
        if (!err)
            err = put_index(txn, 'k', r->kind, r->kind_size, dk, sizeof dk);
        if (!err)
            err = put_index(txn, 's', r->subject, r->subject_size, dk,
                            sizeof dk);
        if (!err) {
            uint8_t hk[1 + 12];
            hk[0] = 'h';
            store_be64(hk + 1, height);
            store_be32(hk + 9, seq);
            err = store_put(txn, STORE_DECISION_INDEX, hk, sizeof hk, dk,
                            sizeof dk);
        }
    }
    rec->first_event = l->event_seq;
    for (uint32_t i = 0; !err && i < o->event_count; i++) {
        const struct contract_record *r = &o->events[i];
        uint32_t seq = l->event_seq++;
        Witan__Event e = WITAN__EVENT__INIT;
        e.source = c->id;
        e.topic = (ProtobufCBinaryData){r->kind_size, r->kind};
        e.n_values = r->value_count;
        e.values = (int64_t *)r->values;
        e.data = (ProtobufCBinaryData){r->data_size, r->data};
        e.height = height;
        e.sequence = seq;
        e.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)l->tx_hash};
        e.run = run;
        uint8_t ek[12];
        store_be64(ek, height);
        store_be32(ek + 8, seq);
        err = store_message(txn, STORE_EVENTS, ek, sizeof ek, &e.base);
    }
    rec->decision_count = o->decision_count;
    rec->event_count = o->event_count;
    rec->write_count = o->write_count;
    return err;
}

/* Runs one entry of contract c with gas g and records the run. *status is
 * the run's. */
static int run_contract(ledger *l, store_txn *txn,
                        const Witan__ContractRecord *c, vm_module *m,
                        uint32_t func, const char *entry, const vm_value *args,
                        uint32_t arg_count, uint64_t gas, uint64_t height,
                        const Witan__PredictionRecord *p, const uint8_t *pkey,
                        size_t pkey_size, Witan__RunStatus *status)
{
    uint32_t run = l->tx_runs++;
    Witan__ContractRun rec = WITAN__CONTRACT_RUN__INIT;
    rec.contract = c->id;
    rec.entry = (char *)entry;
    rec.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)l->tx_hash};
    rec.sequence = run;
    rec.height = height;
    rec.prediction = (ProtobufCBinaryData){pkey_size, (uint8_t *)pkey};
    rec.caller = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, (uint8_t *)l->tx_sender};
    struct contract_outcome o;
    memset(&o, 0, sizeof o);
    int err = WITAN_OK;
    if (l->block_gas + gas > ledger_params(l)->block_gas_max) {
        rec.status = WITAN__RUN_STATUS__RUN_BLOCK_GAS;
    } else {
        struct run_ctx rc = {txn, c->id.data};
        const struct contract_state st = {st_get, st_usage, st_feed,
                                          st_scorecard, &rc};
        const struct contract_call call = {
            .module = m,
            .func = func,
            .args = args,
            .arg_count = arg_count,
            .gas = gas,
            .contract_id = c->id.data,
            .caller = l->tx_sender,
            .height = height,
            .time_ms = l->block_time_ms,
            .prediction = p,
            .decision_seq = l->decision_seq,
            .state = &st,
        };
        err = contract_run(l->rt, &call, &o);
        if (err)
            return err;
        rec.status = o.status;
        rec.trap = (uint32_t)o.res.trap;
        rec.trap_function = o.res.trap ? o.res.trap_func : 0;
        rec.trap_offset = o.res.trap ? o.res.trap_offset : 0;
        rec.abort_code = o.res.trap == VM_TRAP_ABORT ? o.res.abort_code : 0;
        rec.host_error = o.host_error;
        rec.gas = o.res.gas_used;
        l->block_gas += o.res.gas_used;
        l->tx_gas += o.res.gas_used;
        if (o.status == WITAN__RUN_STATUS__RUN_OK) {
            rec.result_type = o.res.value.type;
            if (o.res.value.type == VM_TYPE_INT)
                rec.result_int = o.res.value.i;
            else if (o.res.value.type == VM_TYPE_BYTES)
                rec.result_bytes = (ProtobufCBinaryData){o.res.value.size,
                                                         o.result_bytes};
            err = commit_effects(l, txn, c, &o, height, pkey, pkey_size, run,
                                 &rec);
        }
    }
    if (!err) {
        uint8_t k[WITAN_HASH_SIZE + 4];
        memcpy(k, l->tx_hash, WITAN_HASH_SIZE);
        store_be32(k + WITAN_HASH_SIZE, run);
        err = store_message(txn, STORE_RUNS, k, sizeof k, &rec.base);
    }
    contract_outcome_free(&o);
    *status = rec.status;
    return err;
}

/* --- triggers ------------------------------------------------------------------- */

/* Whether a listener entry admits prediction p at this height: active,
 * and one of its triggers matches. */
static int listener_matches(const void *v, size_t vs, uint64_t height,
                            const Witan__PredictionRecord *p, bool *match)
{
    Witan__ContractListener *ls =
        witan__contract_listener__unpack(NULL, vs, v);
    if (!ls)
        return WITAN_EDBCORRUPT;
    *match = false;
    if (ls->start_height <= height &&
        !(ls->retired_height && height >= ls->retired_height))
        for (size_t t = 0; !*match && t < ls->n_triggers; t++)
            *match = contract_trigger_matches(ls->triggers[t], p);
    witan__contract_listener__free_unpacked(ls, NULL);
    return WITAN_OK;
}

int contracts_on_prediction(ledger *l, store_txn *txn,
                            const Witan__PredictionRecord *p,
                            const uint8_t *pkey, size_t pkey_size)
{
    if (p->status != WITAN__PREDICTION_STATUS__PREDICTION_OK ||
        p->model_hash.len != WITAN_HASH_SIZE || !l->tx_hash)
        return WITAN_OK;
    /* The contracts to run, in id order; collected first, since runs
     * write while the cursor would still be open. */
    uint8_t ids[WITAN_MODEL_CONTRACT_COUNT_MAX][WITAN_HASH_SIZE];
    size_t count = 0;
    uint64_t height = l->tx_height;
    store_cursor *cur;
    int err = store_cursor_open(txn, STORE_CONTRACT_TRIGGERS, &cur);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    for (err = store_cursor_seek(cur, p->model_hash.data, WITAN_HASH_SIZE, &k,
                                 &ks, &v, &vs);
         err == 0; err = store_cursor_next(cur, &k, &ks, &v, &vs)) {
        if (ks != 2 * WITAN_HASH_SIZE ||
            memcmp(k, p->model_hash.data, WITAN_HASH_SIZE) != 0)
            break;
        bool match;
        if ((err = listener_matches(v, vs, height, p, &match)))
            break;
        if (!match)
            continue;
        /* deploy keeps at most this many entries per model */
        if (count == WITAN_MODEL_CONTRACT_COUNT_MAX) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        memcpy(ids[count++], (const uint8_t *)k + WITAN_HASH_SIZE,
               WITAN_HASH_SIZE);
    }
    store_cursor_close(cur);
    if (err && err != WITAN_ENOTFOUND)
        return err;
    err = WITAN_OK;
    for (size_t i = 0; !err && i < count; i++) {
        vm_module *m;
        const Witan__ContractRecord *c;
        uint32_t func;
        Witan__RunStatus rs;
        if ((err = contract_of(l, txn, ids[i], &m, &c)))
            break;
        if (contract_entry(m, CONTRACT_ENTRY_PREDICTION, "", &func))
            err = WITAN_EDBCORRUPT; /* checked at deploy */
        else
            err = run_contract(l, txn, c, m, func, CONTRACT_ENTRY_PREDICTION,
                               NULL, 0, c->gas_limit, height, p, pkey,
                               pkey_size, &rs);
    }
    return err;
}

/* --- apply ---------------------------------------------------------------------- */

static size_t trigger_index_key(const uint8_t *model, const uint8_t *id,
                                uint8_t out[2 * WITAN_HASH_SIZE])
{
    memcpy(out, model, WITAN_HASH_SIZE);
    memcpy(out + WITAN_HASH_SIZE, id, WITAN_HASH_SIZE);
    return 2 * WITAN_HASH_SIZE;
}

/* Index entries of a model. */
static int listeners(store_txn *txn, const uint8_t *model, size_t *count)
{
    store_cursor *cur;
    int err = store_cursor_open(txn, STORE_CONTRACT_TRIGGERS, &cur);
    if (err)
        return err;
    const void *k, *v;
    size_t ks, vs;
    *count = 0;
    for (err = store_cursor_seek(cur, model, WITAN_HASH_SIZE, &k, &ks, &v, &vs);
         err == 0; err = store_cursor_next(cur, &k, &ks, &v, &vs)) {
        if (ks != 2 * WITAN_HASH_SIZE || memcmp(k, model, WITAN_HASH_SIZE) != 0)
            break;
        ++*count;
    }
    store_cursor_close(cur);
    return err == WITAN_ENOTFOUND ? WITAN_OK : err;
}

/* Whether trigger i is the first on its model (a model listed twice gets
 * one index entry). */
static bool first_on_model(Witan__ContractTrigger *const *t, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (memcmp(t[j]->model_hash.data, t[i]->model_hash.data,
                   WITAN_HASH_SIZE) == 0)
            return false;
    return true;
}

/* Writes contract c's entries in the trigger index: one per model, with
 * its start and retirement heights and its triggers on that model. */
static int index_put(store_txn *txn, const Witan__ContractRecord *c)
{
    int err = WITAN_OK;
    Witan__ContractTrigger *mine[WITAN_CONTRACT_TRIGGER_COUNT_MAX];
    for (size_t i = 0; !err && i < c->n_triggers; i++) {
        if (!first_on_model(c->triggers, i))
            continue;
        Witan__ContractListener ls = WITAN__CONTRACT_LISTENER__INIT;
        ls.start_height = c->start_height;
        ls.retired_height = c->retired ? c->retired_height : 0;
        ls.triggers = mine;
        for (size_t j = i; j < c->n_triggers; j++)
            if (memcmp(c->triggers[j]->model_hash.data,
                       c->triggers[i]->model_hash.data, WITAN_HASH_SIZE) == 0)
                mine[ls.n_triggers++] = c->triggers[j];
        uint8_t k[2 * WITAN_HASH_SIZE];
        err = store_message(txn, STORE_CONTRACT_TRIGGERS, k,
                          trigger_index_key(c->triggers[i]->model_hash.data,
                                            c->id.data, k),
                          &ls.base);
    }
    return err;
}

static int unindex(store_txn *txn, const Witan__ContractRecord *c)
{
    int err = WITAN_OK;
    for (size_t i = 0; !err && i < c->n_triggers; i++) {
        if (!first_on_model(c->triggers, i))
            continue;
        uint8_t k[2 * WITAN_HASH_SIZE];
        err = store_del(txn, STORE_CONTRACT_TRIGGERS, k,
                        trigger_index_key(c->triggers[i]->model_hash.data,
                                          c->id.data, k));
        if (err == WITAN_ENOTFOUND)
            err = WITAN_OK;
    }
    return err;
}

int contracts_deploy(store_txn *txn, const Witan__DeployContract *d,
                     const uint8_t id[WITAN_HASH_SIZE],
                     const ProtobufCBinaryData *operator_,
                     const Witan__Params *params, uint64_t height, bool write,
                     Witan__TxStatus *status)
{
    /* Governance (no operator) may replace any contract; a member only
     * the contracts it deployed. */
    bool governed = operator_->len == 0;
    if (d->gas_limit > params->contract_gas_max) {
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
        return WITAN_OK;
    }
    int err = WITAN_OK;
    for (size_t i = 0; i < d->n_triggers; i++) {
        const void *v;
        size_t vs;
        err = store_get(txn, STORE_MODELS, d->triggers[i]->model_hash.data,
                        WITAN_HASH_SIZE, &v, &vs);
        if (err == WITAN_ENOTFOUND) {
            *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_MODEL;
            return WITAN_OK;
        }
        if (err)
            return err;
        /* A model retired by governance is never scored again: a contract
         * listening to it would wait for nothing. */
        Witan__ModelRecord *mr = witan__model_record__unpack(NULL, vs, v);
        if (!mr)
            return WITAN_EDBCORRUPT;
        bool retired = mr->retired_height != 0;
        witan__model_record__free_unpacked(mr, NULL);
        if (retired) {
            *status = WITAN__TX_STATUS__TX_STATUS_MODEL_RETIRED;
            return WITAN_OK;
        }
        size_t n;
        if (first_on_model(d->triggers, i)) {
            if ((err = listeners(txn, d->triggers[i]->model_hash.data, &n)))
                return err;
            if (n >= WITAN_MODEL_CONTRACT_COUNT_MAX) {
                *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
                return WITAN_OK;
            }
        }
    }
    Witan__ContractRecord *old = NULL;
    if (d->replaces.len) {
        err = contract_get(txn, d->replaces.data, &old);
        if (err == WITAN_ENOTFOUND) {
            *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT;
            return WITAN_OK;
        }
        if (err)
            return err;
        if (old->retired)
            *status = WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED;
        else if (!governed &&
                 (old->operator_.len != WITAN_ADDRESS_SIZE ||
                  memcmp(old->operator_.data, operator_->data,
                         WITAN_ADDRESS_SIZE) != 0))
            *status = WITAN__TX_STATUS__TX_STATUS_NOT_OPERATOR;
        if (*status != WITAN__TX_STATUS__TX_STATUS_OK || !write) {
            witan__contract_record__free_unpacked(old, NULL);
            return WITAN_OK;
        }
    }
    if (!write)
        return WITAN_OK;
    Witan__ContractRecord c = WITAN__CONTRACT_RECORD__INIT;
    c.id = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)id};
    c.name = d->name;
    c.version = d->version;
    c.module = d->module;
    c.language = d->language;
    c.source = d->source;
    c.compiler = d->compiler;
    c.source_map = d->source_map;
    c.gas_limit = d->gas_limit;
    c.n_triggers = d->n_triggers;
    c.triggers = d->triggers;
    c.replaces = d->replaces;
    c.operator_ = *operator_;
    c.height = height;
    c.start_height = d->start_height;
    err = contract_put(txn, &c);
    if (!err)
        err = index_put(txn, &c);
    if (!err && old) {
        old->retired = true;
        old->retired_height = d->start_height > height ? d->start_height : height;
        old->retired_by = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)id};
        old->replaced_by = old->retired_by;
        /* At once: its triggers go now. Scheduled: its entries say from
         * when they stop. */
        err = old->retired_height == height ? unindex(txn, old)
                                            : index_put(txn, old);
        if (!err)
            err = contract_put(txn, old);
        /* the record owns neither pointer: clear before freeing */
        old->retired_by = old->replaced_by = (ProtobufCBinaryData){0, NULL};
    }
    if (old)
        witan__contract_record__free_unpacked(old, NULL);
    return err;
}

int contracts_apply_deploy(ledger *l, store_txn *txn, const Witan__TxBody *body,
                           const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                           Witan__TxStatus *status)
{
    return contracts_deploy(txn, body->deploy_contract, hash, &body->sender,
                            ledger_params(l), height, true, status);
}

/* The contract a retire or a call names, with the checks both share. */
static int named_contract(store_txn *txn, const ProtobufCBinaryData *id,
                          uint64_t height, Witan__ContractRecord **c,
                          Witan__TxStatus *status)
{
    int err = contract_get(txn, id->data, c);
    if (err == WITAN_ENOTFOUND) {
        *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_CONTRACT;
        return WITAN_OK;
    }
    if (err)
        return err;
    if (retired_at(*c, height)) {
        *status = WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED;
        witan__contract_record__free_unpacked(*c, NULL);
        *c = NULL;
    }
    return WITAN_OK;
}

int contracts_apply_retire(ledger *l, store_txn *txn, const Witan__TxBody *body,
                           const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                           Witan__TxStatus *status)
{
    (void)l;
    Witan__ContractRecord *c = NULL;
    int err = named_contract(txn, &body->retire_contract->contract, height, &c,
                             status);
    if (err || !c)
        return err;
    if (c->retired) { /* a replacement is already scheduled */
        *status = WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED;
    } else if (c->operator_.len != WITAN_ADDRESS_SIZE ||
               memcmp(c->operator_.data, body->sender.data,
                      WITAN_ADDRESS_SIZE) != 0) {
        *status = WITAN__TX_STATUS__TX_STATUS_NOT_OPERATOR;
    } else {
        c->retired = true;
        c->retired_height = height;
        c->retired_by = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
        err = unindex(txn, c);
        if (!err)
            err = contract_put(txn, c);
        c->retired_by = (ProtobufCBinaryData){0, NULL};
    }
    witan__contract_record__free_unpacked(c, NULL);
    return err;
}

int contracts_retire(store_txn *txn, const uint8_t id[WITAN_HASH_SIZE],
                     uint64_t height, const uint8_t by[WITAN_HASH_SIZE],
                     Witan__TxStatus *status)
{
    Witan__ContractRecord *c = NULL;
    ProtobufCBinaryData idb = {WITAN_HASH_SIZE, (uint8_t *)id};
    int err = named_contract(txn, &idb, height, &c, status);
    if (err || !c)
        return err;
    if (c->retired) {
        *status = WITAN__TX_STATUS__TX_STATUS_CONTRACT_RETIRED;
    } else if (by) {
        c->retired = true;
        c->retired_height = height;
        c->retired_by = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)by};
        err = unindex(txn, c);
        if (!err)
            err = contract_put(txn, c);
        c->retired_by = (ProtobufCBinaryData){0, NULL};
    }
    witan__contract_record__free_unpacked(c, NULL);
    return err;
}

int contracts_apply_call(ledger *l, store_txn *txn, const Witan__TxBody *body,
                         const uint8_t hash[WITAN_HASH_SIZE], uint64_t height,
                         Witan__TxStatus *status)
{
    (void)hash;
    const Witan__CallContract *call = body->call_contract;
    Witan__ContractRecord *c = NULL;
    int err = named_contract(txn, &call->contract, height, &c, status);
    if (err || !c)
        return err;
    uint64_t gas = call->gas_limit ? call->gas_limit : c->gas_limit;
    vm_module *m;
    uint32_t func;
    char types[WITAN_VM_PARAM_COUNT_MAX + 1];
    vm_value args[WITAN_VM_PARAM_COUNT_MAX];
    WITAN_ASSERT(call->n_args <= WITAN_VM_PARAM_COUNT_MAX);
    for (size_t i = 0; i < call->n_args; i++) {
        const Witan__ContractArg *a = call->args[i];
        bool is_int = a->value_case == WITAN__CONTRACT_ARG__VALUE_INT;
        types[i] = is_int ? 'i' : 'b';
        args[i] = is_int ? vm_int(a->int_)
                         : vm_bytes(a->bytes.data, (uint32_t)a->bytes.len);
    }
    types[call->n_args] = 0;
    if (gas > ledger_params(l)->contract_gas_max) {
        *status = WITAN__TX_STATUS__TX_STATUS_INVALID_PAYLOAD;
    } else if (!(err = contract_of(l, txn, c->id.data, &m, NULL))) {
        if (contract_entry(m, call->entry, types, &func) != 0) {
            *status = WITAN__TX_STATUS__TX_STATUS_UNKNOWN_ENTRY;
        } else {
            Witan__RunStatus rs;
            err = run_contract(l, txn, c, m, func, call->entry, args,
                               (uint32_t)call->n_args, gas, height, NULL, NULL,
                               0, &rs);
            if (!err && rs != WITAN__RUN_STATUS__RUN_OK)
                *status = WITAN__TX_STATUS__TX_STATUS_CONTRACT_FAILED;
        }
    }
    witan__contract_record__free_unpacked(c, NULL);
    return err;
}
