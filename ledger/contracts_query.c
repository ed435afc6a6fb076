/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-only queries over decision contracts: contracts, decisions with
 * their chain of evidence (spec/contracts.md section 6), and the runs of a
 * transaction. One read transaction each; results on the heap, freed with
 * the matching _free (protobuf-c's free_unpacked: every part is malloc'd).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"

#define QUERY_LIMIT_DEFAULT 100

/* Appends p to a growing array of pointers. */
static int push(void ***list, size_t *count, void *p)
{
    void **grown = realloc(*list, (*count + 1) * sizeof **list);
    if (!grown)
        return WITAN_ENOMEM;
    grown[(*count)++] = p;
    *list = grown;
    return WITAN_OK;
}

static void drop_bytes(ProtobufCBinaryData *b)
{
    free(b->data);
    *b = (ProtobufCBinaryData){0, NULL};
}

static void drop_text(char **s)
{
    if (*s && *s != protobuf_c_empty_string)
        free(*s);
    *s = (char *)protobuf_c_empty_string;
}

/* --- contracts ------------------------------------------------------------------ */

void ledger_contracts_response_free(Witan__ContractsResponse *r)
{
    if (r)
        witan__contracts_response__free_unpacked(r, NULL);
}

static int get_contract(store_txn *txn, const uint8_t *id,
                        Witan__ContractRecord **out)
{
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_CONTRACTS, id, WITAN_HASH_SIZE, &v, &vs);
    if (err)
        return err;
    *out = witan__contract_record__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

/* A listing leaves out what one fetches by id: module, source, map. */
static void slim_contract(Witan__ContractRecord *c)
{
    drop_bytes(&c->module);
    drop_text(&c->source);
    drop_bytes(&c->source_map);
}

int ledger_query_contracts(ledger *l, const Witan__ContractsRequest *req,
                           Witan__ContractsResponse **out)
{
    *out = NULL;
    if (req->limit > WITAN_QUERY_PAGE_COUNT_MAX)
        return WITAN_ELIMIT;
    if ((req->id.len && req->id.len != WITAN_HASH_SIZE) ||
        (req->model_hash.len && req->model_hash.len != WITAN_HASH_SIZE) ||
        (req->cursor.len && req->cursor.len != WITAN_HASH_SIZE))
        return WITAN_EINVAL;
    uint32_t limit = req->limit ? req->limit : QUERY_LIMIT_DEFAULT;
    Witan__ContractsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__contracts_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    if (req->id.len) {
        Witan__ContractRecord *c;
        err = get_contract(txn, req->id.data, &c);
        if (!err && (err = push((void ***)&r->contracts, &r->n_contracts, c)))
            witan__contract_record__free_unpacked(c, NULL);
        store_abort(txn);
        if (err) {
            ledger_contracts_response_free(r);
            return err;
        }
        *out = r;
        return WITAN_OK;
    }
    /* By model: the trigger index (model || id); else the contracts. */
    bool by_model = req->model_hash.len != 0;
    uint8_t seek[2 * WITAN_HASH_SIZE];
    size_t seek_size = 0, prefix = by_model ? WITAN_HASH_SIZE : 0;
    if (by_model) {
        memcpy(seek, req->model_hash.data, WITAN_HASH_SIZE);
        seek_size = WITAN_HASH_SIZE;
    }
    if (req->cursor.len) {
        memcpy(seek + seek_size, req->cursor.data, WITAN_HASH_SIZE);
        seek_size += WITAN_HASH_SIZE;
    }
    store_cursor *c;
    err = store_cursor_open(txn, by_model ? STORE_CONTRACT_TRIGGERS
                                          : STORE_CONTRACTS,
                            &c);
    const void *k, *v;
    size_t ks, vs;
    if (!err)
        err = store_cursor_seek(c, seek, seek_size, &k, &ks, &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != prefix + WITAN_HASH_SIZE ||
            (by_model && memcmp(k, req->model_hash.data, WITAN_HASH_SIZE)))
            break;
        const uint8_t *id = (const uint8_t *)k + prefix;
        if (r->n_contracts == limit) {
            err = ledger_dup_bytes(&r->next_cursor, id, WITAN_HASH_SIZE);
            break;
        }
        Witan__ContractRecord *rec;
        if (by_model) {
            err = get_contract(txn, id, &rec);
        } else {
            rec = witan__contract_record__unpack(NULL, vs, v);
            err = rec ? WITAN_OK : WITAN_EDBCORRUPT;
        }
        if (err)
            break;
        slim_contract(rec);
        if ((err = push((void ***)&r->contracts, &r->n_contracts, rec))) {
            witan__contract_record__free_unpacked(rec, NULL);
            break;
        }
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    store_cursor_close(c);
    store_abort(txn);
    if (err) {
        ledger_contracts_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

/* --- decisions ------------------------------------------------------------------ */

void ledger_decisions_response_free(Witan__DecisionsResponse *r)
{
    if (r)
        witan__decisions_response__free_unpacked(r, NULL);
}

static int get_decision(store_txn *txn, const uint8_t *key,
                        Witan__Decision **out)
{
    const void *v;
    size_t vs;
    int err = store_get(txn, STORE_DECISIONS, key, WITAN_DECISION_ID_SIZE, &v, &vs);
    if (err)
        return err;
    *out = witan__decision__unpack(NULL, vs, v);
    return *out ? WITAN_OK : WITAN_EDBCORRUPT;
}

static bool same(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* The attestation record stored by transaction `tx`: found through its
 * block, its Attest's key, and the revision with that hash. */
static int attestation_of(const ledger *l, store_txn *txn,
                          const ProtobufCBinaryData *tx,
                          Witan__AttestationRecord **out)
{
    *out = NULL;
    if (tx->len != WITAN_HASH_SIZE)
        return WITAN_ENOTFOUND;
    uint8_t loc[LEDGER_TX_LOC_SIZE];
    int err = ledger_txn_locate(l, txn, tx->data, loc);
    if (err)
        return err;
    uint32_t index = store_read_be32(loc + 8);
    const void *v;
    size_t vs;
    if ((err = store_get(txn, STORE_BLOCKS, loc, 8, &v, &vs)))
        return err;
    ProtobufCBinaryData header, env;
    Witan__Envelope *e = NULL;
    Witan__TxBody *body = NULL;
    if (stored_block_parts(v, vs, index, &header, &env) == 0)
        e = witan__envelope__unpack(NULL, env.len, env.data);
    if (e)
        body = witan__tx_body__unpack(NULL, e->body.len, e->body.data);
    if (!body || body->payload_case != WITAN__TX_BODY__PAYLOAD_ATTEST) {
        err = body ? WITAN_ENOTFOUND : WITAN_EDBCORRUPT;
    } else {
        uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX];
        const Witan__Attest *a = body->attest;
        size_t n = attest_key(a->feed, a->subject, a->observed_at_ms,
                              body->sender.data, false, 0, prefix);
        store_cursor *c;
        const void *k;
        size_t ks;
        err = store_cursor_open(txn, STORE_ATTESTATIONS, &c);
        if (!err) {
            for (err = store_cursor_seek(c, prefix, n, &k, &ks, &v, &vs);
                 err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
                if (ks != n + 4 || memcmp(k, prefix, n) != 0) {
                    err = WITAN_ENOTFOUND;
                    break;
                }
                Witan__AttestationRecord *r =
                    witan__attestation_record__unpack(NULL, vs, v);
                if (!r) {
                    err = WITAN_EDBCORRUPT;
                    break;
                }
                if (same(&r->tx_hash, tx)) {
                    *out = r;
                    break;
                }
                witan__attestation_record__free_unpacked(r, NULL);
            }
            store_cursor_close(c);
        }
    }
    if (body)
        witan__tx_body__free_unpacked(body, NULL);
    if (e)
        witan__envelope__free_unpacked(e, NULL);
    return err;
}

/* Fills the evidence of decision d (spec/contracts.md section 6). */
static int evidence(const ledger *l, store_txn *txn,
                    Witan__DecisionEvidence *ev)
{
    const Witan__Decision *d = ev->decision;
    const void *v;
    size_t vs;
    int err = WITAN_OK;
    /* the contract with its source (what auditors read), not its module */
    if (d->contract.len == WITAN_HASH_SIZE &&
        !(err = get_contract(txn, d->contract.data, &ev->contract)))
        drop_bytes(&ev->contract->module);
    if (err)
        return err;
    if (d->tx_hash.len == WITAN_HASH_SIZE) {
        uint8_t rk[WITAN_HASH_SIZE + 4];
        memcpy(rk, d->tx_hash.data, WITAN_HASH_SIZE);
        store_be32(rk + WITAN_HASH_SIZE, d->run);
        if ((err = store_get(txn, STORE_RUNS, rk, sizeof rk, &v, &vs)))
            return err;
        if (!(ev->run = witan__contract_run__unpack(NULL, vs, v)))
            return WITAN_EDBCORRUPT;
    }
    if (d->prediction.len == 0)
        return WITAN_OK; /* a called contract rests on no prediction */
    if ((err = store_get(txn, STORE_PREDICTIONS, d->prediction.data,
                         d->prediction.len, &v, &vs)))
        return err;
    if (!(ev->prediction = witan__prediction_record__unpack(NULL, vs, v)))
        return WITAN_EDBCORRUPT;
    const Witan__PredictionRecord *p = ev->prediction;
    if (p->model_hash.len == WITAN_HASH_SIZE) {
        err = store_get(txn, STORE_MODELS, p->model_hash.data, WITAN_HASH_SIZE,
                        &v, &vs);
        if (!err) {
            if (!(ev->model = witan__model_record__unpack(NULL, vs, v)))
                return WITAN_EDBCORRUPT;
            drop_bytes(&ev->model->model);
        } else if (err != WITAN_ENOTFOUND) { /* a posted unregistered model */
            return err;
        }
    }
    for (size_t i = 0; i < p->n_input_txs; i++) {
        /* each attestation once, in the order of the first input it gave */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = same(&p->input_txs[j], &p->input_txs[i]);
        if (seen)
            continue;
        Witan__AttestationRecord *a;
        err = attestation_of(l, txn, &p->input_txs[i], &a);
        if (err == WITAN_ENOTFOUND)
            continue; /* no input there (a posted prediction may name none) */
        if (err)
            return err;
        if ((err = push((void ***)&ev->inputs, &ev->n_inputs, a))) {
            witan__attestation_record__free_unpacked(a, NULL);
            return err;
        }
    }
    return WITAN_OK;
}

static bool in_range(const Witan__DecisionsRequest *q, const Witan__Decision *d)
{
    return d->height >= q->from_height &&
           (q->to_height == 0 || d->height <= q->to_height) &&
           (!q->contract.len || same(&q->contract, &d->contract)) &&
           (!q->kind.len || same(&q->kind, &d->kind)) &&
           (!q->subject.len || same(&q->subject, &d->subject));
}

/* Adds a decision (and its evidence when with_evidence) to r; takes d. */
static int add_decision(const ledger *l, store_txn *txn,
                        Witan__DecisionsResponse *r, const uint8_t *key,
                        Witan__Decision *d, bool with_evidence)
{
    Witan__DecisionEvidence *ev = calloc(1, sizeof *ev);
    if (!ev) {
        witan__decision__free_unpacked(d, NULL);
        return WITAN_ENOMEM;
    }
    witan__decision_evidence__init(ev);
    ev->decision = d;
    int err = ledger_dup_bytes(&ev->id, key, WITAN_DECISION_ID_SIZE);
    if (!err && with_evidence)
        err = evidence(l, txn, ev);
    if (!err)
        err = push((void ***)&r->decisions, &r->n_decisions, ev);
    if (err)
        witan__decision_evidence__free_unpacked(ev, NULL);
    return err;
}

int ledger_query_decisions(ledger *l, const Witan__DecisionsRequest *req,
                           Witan__DecisionsResponse **out)
{
    *out = NULL;
    if (req->limit > WITAN_QUERY_PAGE_COUNT_MAX)
        return WITAN_ELIMIT;
    if ((req->id.len && req->id.len != WITAN_DECISION_ID_SIZE) ||
        (req->contract.len && req->contract.len != WITAN_HASH_SIZE) ||
        req->kind.len > WITAN_DECISION_KIND_SIZE_MAX ||
        req->subject.len > WITAN_DECISION_SUBJECT_SIZE_MAX ||
        req->cursor.len > WITAN_DECISION_CURSOR_SIZE_MAX)
        return WITAN_EINVAL;
    uint32_t limit = req->limit ? req->limit : QUERY_LIMIT_DEFAULT;
    Witan__DecisionsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__decisions_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    if (req->id.len) {
        Witan__Decision *d;
        err = get_decision(txn, req->id.data, &d);
        if (!err)
            err = add_decision(l, txn, r, req->id.data, d, true);
        store_abort(txn);
        if (err) {
            ledger_decisions_response_free(r);
            return err;
        }
        *out = r;
        return WITAN_OK;
    }
    /* The source scanned: a contract's decisions (their own keys), or an
     * index of kind, subject or height; each other filter is checked on
     * the record. The cursor is the next key of that source. */
    enum store_table table = STORE_DECISION_INDEX;
    uint8_t prefix[WITAN_DECISION_CURSOR_SIZE_MAX - WITAN_DECISION_ID_SIZE],
        seek[WITAN_DECISION_CURSOR_SIZE_MAX];
    size_t prefix_size;
    if (req->contract.len) {
        table = STORE_DECISIONS;
        memcpy(prefix, req->contract.data, WITAN_HASH_SIZE);
        prefix_size = WITAN_HASH_SIZE;
    } else if (req->kind.len || req->subject.len) {
        const ProtobufCBinaryData *t = req->kind.len ? &req->kind : &req->subject;
        prefix[0] = req->kind.len ? 'k' : 's';
        prefix[1] = (uint8_t)t->len;
        memcpy(prefix + 2, t->data, t->len);
        prefix_size = 2 + t->len;
    } else {
        prefix[0] = 'h';
        prefix_size = 1;
    }
    size_t seek_size = prefix_size;
    memcpy(seek, prefix, prefix_size);
    if (req->cursor.len) {
        if (req->cursor.len < prefix_size ||
            memcmp(req->cursor.data, prefix, prefix_size) != 0) {
            store_abort(txn);
            free(r);
            return WITAN_EINVAL;
        }
        memcpy(seek, req->cursor.data, req->cursor.len);
        seek_size = req->cursor.len;
    } else if (prefix[0] == 'h' && table == STORE_DECISION_INDEX) {
        store_be64(seek + 1, req->from_height);
        seek_size = 9;
    } else if (table == STORE_DECISIONS) {
        store_be64(seek + WITAN_HASH_SIZE, req->from_height);
        seek_size = WITAN_HASH_SIZE + 8;
    }
    store_cursor *c;
    err = store_cursor_open(txn, table, &c);
    const void *k, *v;
    size_t ks, vs;
    if (!err)
        err = store_cursor_seek(c, seek, seek_size, &k, &ks, &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks < prefix_size || memcmp(k, prefix, prefix_size) != 0)
            break;
        const uint8_t *dkey;
        if (table == STORE_DECISIONS)
            dkey = k;
        else if (prefix[0] == 'h')
            dkey = v;
        else
            dkey = (const uint8_t *)k + prefix_size;
        if ((table == STORE_DECISIONS ? ks : prefix[0] == 'h' ? vs
                                                               : ks - prefix_size) !=
            WITAN_DECISION_ID_SIZE) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        /* Height order ends the scan past to_height. */
        uint64_t h = store_read_be64(dkey + WITAN_HASH_SIZE);
        if (req->to_height && h > req->to_height &&
            (table == STORE_DECISIONS || prefix[0] == 'h'))
            break;
        if (r->n_decisions == limit) {
            err = ledger_dup_bytes(&r->next_cursor, k, ks);
            break;
        }
        Witan__Decision *d;
        if ((err = get_decision(txn, dkey, &d)))
            break;
        if (!in_range(req, d)) {
            witan__decision__free_unpacked(d, NULL);
            continue;
        }
        if ((err = add_decision(l, txn, r, dkey, d, false)))
            break;
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    store_cursor_close(c);
    store_abort(txn);
    if (err) {
        ledger_decisions_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

/* --- runs --------------------------------------------------------------------- */

void ledger_runs_response_free(Witan__RunsResponse *r)
{
    if (r)
        witan__runs_response__free_unpacked(r, NULL);
}

int ledger_query_runs(ledger *l, const Witan__RunsRequest *req,
                      Witan__RunsResponse **out)
{
    *out = NULL;
    if (req->tx_hash.len != WITAN_HASH_SIZE)
        return WITAN_EINVAL;
    Witan__RunsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__runs_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    store_cursor *c;
    err = store_cursor_open(txn, STORE_RUNS, &c);
    const void *k, *v;
    size_t ks, vs;
    if (!err)
        err = store_cursor_seek(c, req->tx_hash.data, WITAN_HASH_SIZE, &k, &ks,
                                &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != WITAN_HASH_SIZE + 4 ||
            memcmp(k, req->tx_hash.data, WITAN_HASH_SIZE) != 0)
            break;
        Witan__ContractRun *run = witan__contract_run__unpack(NULL, vs, v);
        if (!run) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        if ((err = push((void ***)&r->runs, &r->n_runs, run))) {
            witan__contract_run__free_unpacked(run, NULL);
            break;
        }
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    store_cursor_close(c);
    /* Each run's decisions and events, by their block sequences. */
    for (size_t i = 0; !err && i < r->n_runs; i++) {
        const Witan__ContractRun *run = r->runs[i];
        for (uint32_t j = 0; !err && j < run->decision_count; j++) {
            uint8_t dk[WITAN_DECISION_ID_SIZE];
            if (run->contract.len != WITAN_HASH_SIZE) {
                err = WITAN_EDBCORRUPT;
                break;
            }
            memcpy(dk, run->contract.data, WITAN_HASH_SIZE);
            store_be64(dk + WITAN_HASH_SIZE, run->height);
            store_be32(dk + WITAN_HASH_SIZE + 8, run->first_decision + j);
            Witan__Decision *d;
            if (!(err = get_decision(txn, dk, &d)) &&
                (err = push((void ***)&r->decisions, &r->n_decisions, d)))
                witan__decision__free_unpacked(d, NULL);
        }
        for (uint32_t j = 0; !err && j < run->event_count; j++) {
            uint8_t ek[12];
            store_be64(ek, run->height);
            store_be32(ek + 8, run->first_event + j);
            if ((err = store_get(txn, STORE_EVENTS, ek, sizeof ek, &v, &vs)))
                break;
            Witan__Event *e = witan__event__unpack(NULL, vs, v);
            if (!e)
                err = WITAN_EDBCORRUPT;
            else if ((err = push((void ***)&r->events, &r->n_events, e)))
                witan__event__free_unpacked(e, NULL);
        }
    }
    store_abort(txn);
    if (err) {
        ledger_runs_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

/* --- rendering ------------------------------------------------------------------ */

static const char *host_error_text(Witan__HostError e)
{
    switch (e) {
    case WITAN__HOST_ERROR__HOST_ERROR_ARGUMENT:
        return "an argument outside the function's domain";
    case WITAN__HOST_ERROR__HOST_ERROR_NO_PREDICTION:
        return "a prediction function in a run no prediction triggered";
    case WITAN__HOST_ERROR__HOST_ERROR_NOT_FOUND:
        return "no such value in the feed";
    case WITAN__HOST_ERROR__HOST_ERROR_RANGE:
        return "a value that does not fit the scale asked";
    case WITAN__HOST_ERROR__HOST_ERROR_STORAGE_LIMIT:
        return "a storage key, value or quota over its limit";
    case WITAN__HOST_ERROR__HOST_ERROR_RECORD_LIMIT:
        return "too many writes, decisions or events in one run";
    default:
        return "an unknown host error";
    }
}

void ledger_run_why(const Witan__ContractRun *r, char *out, size_t out_size)
{
    switch (r->status) {
    case WITAN__RUN_STATUS__RUN_OK:
        snprintf(out, out_size, "returned: %u decisions, %u events, %u writes",
                 r->decision_count, r->event_count, r->write_count);
        return;
    case WITAN__RUN_STATUS__RUN_OUT_OF_GAS:
        snprintf(out, out_size,
                 "ran out of its %llu gas at function %u, word %u; nothing "
                 "it did counts",
                 (unsigned long long)r->gas, r->trap_function, r->trap_offset);
        return;
    case WITAN__RUN_STATUS__RUN_BLOCK_GAS:
        snprintf(out, out_size,
                 "not run: the block's gas (block_gas_max) could not cover "
                 "its gas limit");
        return;
    case WITAN__RUN_STATUS__RUN_TRAP: {
        char detail[96] = "";
        if (r->trap == VM_TRAP_ABORT)
            snprintf(detail, sizeof detail, " (code %lld)",
                     (long long)r->abort_code);
        else if (r->trap == VM_TRAP_HOST)
            snprintf(detail, sizeof detail, " (%s)",
                     host_error_text(r->host_error));
        snprintf(out, out_size,
                 "trapped: %s%s at function %u, word %u; nothing it did "
                 "counts",
                 vm_trap_text((int)r->trap), detail, r->trap_function,
                 r->trap_offset);
        return;
    }
    default:
        snprintf(out, out_size, "unknown run status %d", (int)r->status);
    }
}
