/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-only queries over committed state, each in one read transaction (so
 * a page is one consistent snapshot). Results are protobuf-c messages built
 * on the heap, owned by the caller and freed with the matching _free.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/internal.h"

#define QUERY_LIMIT_DEFAULT 100

int ledger_dup_bytes(ProtobufCBinaryData *out, const void *data, size_t size)
{
    out->data = malloc(size ? size : 1);
    if (!out->data)
        return WITAN_ENOMEM;
    memcpy(out->data, data, size);
    out->len = size;
    return WITAN_OK;
}

void ledger_block_response_free(Witan__BlockResponse *r)
{
    if (r)
        witan__block_response__free_unpacked(r, NULL);
}

int ledger_get_block(ledger *l, uint64_t height, Witan__BlockResponse **out)
{
    *out = NULL;
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    Witan__BlockResponse *r = calloc(1, sizeof *r);
    if (!r) {
        store_abort(txn);
        return WITAN_ENOMEM;
    }
    witan__block_response__init(r);
    uint8_t key[9];
    const void *v;
    size_t vs;
    store_be64(key, height);
    err = store_get(txn, STORE_BLOCKS, key, 8, &v, &vs);
    if (!err) {
        r->block = witan__block__unpack(NULL, vs, v);
        if (!r->block)
            err = WITAN_EDBCORRUPT;
    }
    if (!err) {
        uint8_t hash[WITAN_HASH_SIZE];
        wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, r->block->header.data,
                            r->block->header.len, hash);
        err = ledger_dup_bytes(&r->block_hash, hash, WITAN_HASH_SIZE);
    }
    if (!err && store_get(txn, STORE_CERTS, key, 8, &v, &vs) == 0) {
        r->cert = witan__commit_certificate__unpack(NULL, vs, v);
        if (!r->cert)
            err = WITAN_EDBCORRUPT;
    }
    key[0] = 'r';
    store_be64(key + 1, height);
    if (!err && store_get(txn, STORE_META, key, 9, &v, &vs) == 0 &&
        vs == 2 * WITAN_HASH_SIZE) {
        err = ledger_dup_bytes(&r->state_root, v, WITAN_HASH_SIZE);
        if (!err)
            err = ledger_dup_bytes(&r->receipts_root,
                            (const uint8_t *)v + WITAN_HASH_SIZE,
                            WITAN_HASH_SIZE);
    }
    store_abort(txn);
    if (err) {
        ledger_block_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

void ledger_tx_response_free(Witan__TxResponse *r)
{
    if (r)
        witan__tx_response__free_unpacked(r, NULL);
}

int ledger_tx_committed(ledger *l, const uint8_t hash[WITAN_HASH_SIZE],
                        bool *committed)
{
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    err = ledger_txn_committed(l, txn, hash, committed);
    store_abort(txn);
    return err;
}

int ledger_get_tx(ledger *l, const uint8_t hash[WITAN_HASH_SIZE],
                  Witan__TxResponse **out)
{
    *out = NULL;
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    Witan__TxResponse *r = calloc(1, sizeof *r);
    if (!r) {
        store_abort(txn);
        return WITAN_ENOMEM;
    }
    witan__tx_response__init(r);
    const void *v;
    size_t vs;
    uint8_t loc[LEDGER_TX_LOC_SIZE];
    err = ledger_txn_locate(l, txn, hash, loc);
    if (err == WITAN_ENOTFOUND) {
        r->state = WITAN__TX_STATE__TX_STATE_UNKNOWN;
        store_abort(txn);
        *out = r;
        return WITAN_OK;
    }
    uint64_t height = 0;
    uint32_t index = 0;
    if (!err) {
        height = store_read_be64(loc);
        index = store_read_be32(loc + 8);
        err = store_get(txn, STORE_RECEIPTS, loc, sizeof loc, &v, &vs);
    }
    if (!err) {
        r->receipt = witan__receipt__unpack(NULL, vs, v);
        if (!r->receipt)
            err = WITAN_EDBCORRUPT;
    }
    uint8_t key[8];
    store_be64(key, height);
    if (!err)
        err = store_get(txn, STORE_BLOCKS, key, 8, &v, &vs);
    ProtobufCBinaryData header = {0, NULL}, envelope = {0, NULL};
    if (!err)
        err = stored_block_parts(v, vs, index, &header, &envelope);
    if (!err) {
        uint8_t bh[WITAN_HASH_SIZE];
        wcrypto_hash_tagged(WCRYPTO_TAG_BLOCK, header.data, header.len, bh);
        err = ledger_dup_bytes(&r->envelope, envelope.data, envelope.len);
        if (!err)
            err = ledger_dup_bytes(&r->block_hash, bh, WITAN_HASH_SIZE);
    }
    store_abort(txn);
    if (err) {
        ledger_tx_response_free(r);
        return err;
    }
    r->state = WITAN__TX_STATE__TX_STATE_COMMITTED;
    *out = r;
    return WITAN_OK;
}

void ledger_attestations_response_free(Witan__AttestationsResponse *r)
{
    if (r)
        witan__attestations_response__free_unpacked(r, NULL);
}

static int push_record(Witan__AttestationRecord ***list, size_t *count,
                       Witan__AttestationRecord *rec)
{
    Witan__AttestationRecord **l = realloc(*list, (*count + 1) * sizeof *l);
    if (!l)
        return WITAN_ENOMEM;
    l[(*count)++] = rec;
    *list = l;
    return WITAN_OK;
}

int ledger_query_attestations(ledger *l, const Witan__AttestationsRequest *req,
                              Witan__AttestationsResponse **out)
{
    *out = NULL;
    if (strlen(req->feed) > WITAN_FEED_SIZE_MAX ||
        strlen(req->subject) > WITAN_SUBJECT_SIZE_MAX ||
        req->cursor.len > WITAN_STORE_KEY_SIZE_MAX)
        return WITAN_ELIMIT;
    if (req->limit > WITAN_QUERY_PAGE_COUNT_MAX)
        return WITAN_ELIMIT;
    uint32_t limit = req->limit ? req->limit : QUERY_LIMIT_DEFAULT;
    int64_t to = req->to_ms ? req->to_ms : INT64_MAX;

    /* Keys of one feed and subject share a prefix; time follows it. */
    uint8_t prefix[WITAN_STORE_KEY_SIZE_MAX], start[WITAN_STORE_KEY_SIZE_MAX];
    size_t prefix_size =
        attest_key(req->feed, req->subject, 0, NULL, false, 0, prefix) - 8;
    size_t start_size = attest_key(req->feed, req->subject, req->from_ms, NULL,
                                   false, 0, start);
    if (req->cursor.len) {
        /* A cursor is a key of this feed and subject, past `from`. */
        if (req->cursor.len < start_size ||
            memcmp(req->cursor.data, prefix, prefix_size) != 0 ||
            memcmp(req->cursor.data, start, start_size) < 0)
            return WITAN_EINVAL;
        memcpy(start, req->cursor.data, req->cursor.len);
        start_size = req->cursor.len;
    }

    Witan__AttestationsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__attestations_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    store_cursor *c;
    err = store_cursor_open(txn, STORE_ATTESTATIONS, &c);
    const void *k, *v;
    size_t ks, vs;
    Witan__AttestationRecord *pending = NULL; /* latest seen of current key */
    size_t group_size = 0;                    /* bytes that identify a key */
    uint8_t group[WITAN_STORE_KEY_SIZE_MAX];
    if (!err)
        err = store_cursor_seek(c, start, start_size, &k, &ks, &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        const uint8_t *kb = k;
        if (ks != prefix_size + 8 + WITAN_ADDRESS_SIZE + 4 ||
            memcmp(kb, prefix, prefix_size) != 0)
            break;
        int64_t t = (int64_t)(store_read_be64(kb + prefix_size) ^
                              (UINT64_C(1) << 63));
        if (t > to)
            break;
        size_t gs = ks - 4; /* the key without its revision */
        bool same = pending && gs == group_size && memcmp(kb, group, gs) == 0;
        if (!same && pending) {
            if (r->n_records == limit) {
                /* The page is full: the completed key starts the next. */
                err = ledger_dup_bytes(&r->next_cursor, group, group_size);
                break;
            }
            err = push_record(&r->records, &r->n_records, pending);
            pending = NULL;
            if (err)
                break;
        }
        if (same && req->history) {
            err = push_record(&r->history, &r->n_history, pending);
            pending = NULL;
            if (err)
                break;
        } else if (same) {
            witan__attestation_record__free_unpacked(pending, NULL);
            pending = NULL;
        }
        pending = witan__attestation_record__unpack(NULL, vs, v);
        if (!pending) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        memcpy(group, kb, gs);
        group_size = gs;
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    if (!err && pending && !r->next_cursor.len) {
        if (r->n_records == limit) {
            err = ledger_dup_bytes(&r->next_cursor, group, group_size);
        } else {
            err = push_record(&r->records, &r->n_records, pending);
            pending = NULL;
        }
    }
    if (pending)
        witan__attestation_record__free_unpacked(pending, NULL);
    store_cursor_close(c);
    store_abort(txn);
    if (err) {
        ledger_attestations_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

void ledger_feeds_response_free(Witan__FeedsResponse *r)
{
    if (r)
        witan__feeds_response__free_unpacked(r, NULL);
}

/* The length of the NUL-terminated part of key bytes at `from`, or -1
 * when there is no NUL before `end`. */
static ptrdiff_t key_field(const uint8_t *kb, size_t from, size_t end)
{
    for (size_t i = from; i < end; i++)
        if (kb[i] == 0)
            return (ptrdiff_t)(i - from);
    return -1;
}

int ledger_query_feeds(ledger *l, const Witan__FeedsRequest *req,
                       Witan__FeedsResponse **out)
{
    *out = NULL;
    size_t feed_size = strlen(req->feed);
    if (feed_size > WITAN_FEED_SIZE_MAX ||
        req->limit > WITAN_QUERY_PAGE_COUNT_MAX ||
        req->cursor.len > WITAN_STORE_KEY_SIZE_MAX)
        return WITAN_ELIMIT;
    uint32_t limit = req->limit ? req->limit : QUERY_LIMIT_DEFAULT;
    /* A key is feed \0 subject \0 time provider revision; with a feed the
     * search keeps to the keys that begin with feed \0. A cursor is the
     * next pair's feed \0 subject \0. */
    uint8_t prefix[WITAN_FEED_SIZE_MAX + 1], seek[WITAN_STORE_KEY_SIZE_MAX];
    size_t prefix_size = 0, seek_size = 0;
    if (feed_size) {
        memcpy(prefix, req->feed, feed_size);
        prefix[feed_size] = 0;
        prefix_size = feed_size + 1;
    }
    if (req->cursor.len) {
        if (req->cursor.len < prefix_size ||
            memcmp(req->cursor.data, prefix, prefix_size) != 0)
            return WITAN_EINVAL;
        memcpy(seek, req->cursor.data, req->cursor.len);
        seek_size = req->cursor.len;
    } else {
        memcpy(seek, prefix, prefix_size);
        seek_size = prefix_size;
    }
    Witan__FeedsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__feeds_response__init(r);
    size_t cap = 0;
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    store_cursor *c = NULL;
    err = store_cursor_open(txn, STORE_ATTESTATIONS, &c);
    while (!err) {
        const void *k, *v;
        size_t ks, vs;
        err = store_cursor_seek(c, seek, seek_size, &k, &ks, &v, &vs);
        if (err)
            break;
        const uint8_t *kb = k;
        if (ks < prefix_size || memcmp(kb, prefix, prefix_size) != 0)
            break; /* past this feed */
        ptrdiff_t fs = key_field(kb, 0, ks);
        ptrdiff_t ss = fs < 0 ? -1 : key_field(kb, (size_t)fs + 1, ks);
        size_t pair = fs < 0 || ss < 0 ? 0 : (size_t)fs + 1 + (size_t)ss + 1;
        if (!pair || pair + 8 > ks || (size_t)fs > WITAN_FEED_SIZE_MAX ||
            (size_t)ss > WITAN_SUBJECT_SIZE_MAX) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        if (r->n_feeds == limit) {
            err = ledger_dup_bytes(&r->next_cursor, kb, pair);
            break;
        }
        if (r->n_feeds == cap) {
            size_t grown_cap = cap ? 2 * cap : 16;
            Witan__FeedSubject **grown =
                realloc(r->feeds, grown_cap * sizeof *grown);
            if (!grown) {
                err = WITAN_ENOMEM;
                break;
            }
            r->feeds = grown;
            cap = grown_cap;
        }
        Witan__FeedSubject *f = calloc(1, sizeof *f);
        char *feed = f ? malloc((size_t)fs + 1) : NULL;
        char *subject = feed ? malloc((size_t)ss + 1) : NULL;
        if (!subject) {
            free(feed);
            free(f);
            err = WITAN_ENOMEM;
            break;
        }
        witan__feed_subject__init(f);
        memcpy(feed, kb, (size_t)fs);
        feed[fs] = '\0';
        memcpy(subject, kb + fs + 1, (size_t)ss);
        subject[ss] = '\0';
        f->feed = feed;
        f->subject = subject;
        f->first_observed_at_ms =
            (int64_t)(store_read_be64(kb + pair) ^ (UINT64_C(1) << 63));
        r->feeds[r->n_feeds++] = f;
        /* The next pair: past every key of this one. Its subject's
         * terminator 0 becomes 1, which sorts after every key of the pair
         * and before any later pair (subjects hold no 0 byte). */
        memcpy(seek, kb, pair);
        seek[pair - 1] = 1;
        seek_size = pair;
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    if (c)
        store_cursor_close(c);
    store_abort(txn);
    if (err) {
        ledger_feeds_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

int ledger_get_account(ledger *l, const uint8_t addr[WITAN_ADDRESS_SIZE],
                       Witan__Account **out)
{
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err)
        return err;
    err = account_get(txn, addr, out);
    store_abort(txn);
    return err;
}

void ledger_prediction_why(const Witan__PredictionProblem *p, char *out,
                           size_t out_size)
{
    char who[32] = "";
    if (p->binding)
        snprintf(who, sizeof who, "binding %u: ", p->binding);
    switch (p->reason) {
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_FEW:
        snprintf(out, out_size, "%s%u of the %u observations needed exist",
                 who, p->found, p->needed);
        break;
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_NO_VALUE:
        snprintf(out, out_size,
                 "%sthe observation at %lld ms has no value for it", who,
                 (long long)p->observed_at_ms);
        break;
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_TOO_OLD:
        snprintf(out, out_size,
                 "%sthe newest observation, at %lld ms, is older than its "
                 "max age of %llu ms",
                 who, (long long)p->observed_at_ms,
                 (unsigned long long)p->limit);
        break;
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_VALUE_RANGE:
        if (p->input)
            snprintf(out, out_size,
                     "input %u is outside the values the model takes",
                     p->input);
        else
            snprintf(out, out_size,
                     "%sthe value observed at %lld ms is outside the values "
                     "the model takes",
                     who, (long long)p->observed_at_ms);
        break;
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_BLOCK_GAS:
        snprintf(out, out_size,
                 "the block's model gas (%llu) cannot cover this model",
                 (unsigned long long)p->limit);
        break;
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_SCORE_RANGE:
        snprintf(out, out_size,
                 "a value left the model's range while it was scored");
        break;
    case WITAN__PREDICTION_REASON__PREDICTION_REASON_OUT_OF_CALIBRATION:
        snprintf(out, out_size,
                 "input %u is outside the range the model was calibrated on",
                 p->input);
        break;
    default:
        snprintf(out, out_size, "unknown reason %d", (int)p->reason);
        break;
    }
}

void ledger_predictions_response_free(Witan__PredictionsResponse *r)
{
    if (r)
        witan__predictions_response__free_unpacked(r, NULL);
}

int ledger_query_predictions(ledger *l, const Witan__PredictionsRequest *req,
                             Witan__PredictionsResponse **out)
{
    *out = NULL;
    if (req->model_hash.len != WITAN_HASH_SIZE)
        return WITAN_EINVAL;
    if (req->limit > WITAN_QUERY_PAGE_COUNT_MAX)
        return WITAN_ELIMIT;
    uint32_t limit = req->limit ? req->limit : QUERY_LIMIT_DEFAULT;
    uint64_t to = req->to_height ? req->to_height : UINT64_MAX;
    uint8_t start[WITAN_HASH_SIZE + 8 + 4];
    size_t start_size = WITAN_HASH_SIZE + 8;
    memcpy(start, req->model_hash.data, WITAN_HASH_SIZE);
    store_be64(start + WITAN_HASH_SIZE, req->from_height);
    if (req->cursor.len) {
        if (req->cursor.len != sizeof start ||
            memcmp(req->cursor.data, start, WITAN_HASH_SIZE) != 0)
            return WITAN_EINVAL;
        memcpy(start, req->cursor.data, sizeof start);
        start_size = sizeof start;
    }
    Witan__PredictionsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__predictions_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    store_cursor *c;
    err = store_cursor_open(txn, STORE_PREDICTIONS, &c);
    const void *k, *v;
    size_t ks, vs;
    if (!err)
        err = store_cursor_seek(c, start, start_size, &k, &ks, &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (ks != sizeof start ||
            memcmp(k, req->model_hash.data, WITAN_HASH_SIZE) != 0 ||
            store_read_be64((const uint8_t *)k + WITAN_HASH_SIZE) > to)
            break;
        if (r->n_records == limit) {
            err = ledger_dup_bytes(&r->next_cursor, k, ks);
            break;
        }
        Witan__PredictionRecord *p =
            witan__prediction_record__unpack(NULL, vs, v);
        if (!p) {
            err = WITAN_EDBCORRUPT;
            break;
        }
        if (req->subject[0] && strcmp(req->subject, p->subject) != 0) {
            witan__prediction_record__free_unpacked(p, NULL);
            continue;
        }
        void *grown = realloc(r->records, (r->n_records + 1) * sizeof *r->records);
        if (!grown) {
            witan__prediction_record__free_unpacked(p, NULL);
            err = WITAN_ENOMEM;
            break;
        }
        r->records = grown;
        r->records[r->n_records++] = p;
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    store_cursor_close(c);
    store_abort(txn);
    if (err) {
        ledger_predictions_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}

void ledger_models_response_free(Witan__ModelsResponse *r)
{
    if (r)
        witan__models_response__free_unpacked(r, NULL);
}

int ledger_query_models(ledger *l, const Witan__ModelsRequest *req,
                        Witan__ModelsResponse **out)
{
    *out = NULL;
    if (req->limit > WITAN_QUERY_PAGE_COUNT_MAX)
        return WITAN_ELIMIT;
    if ((req->hash.len && req->hash.len != WITAN_HASH_SIZE) ||
        (req->cursor.len && req->cursor.len != WITAN_HASH_SIZE))
        return WITAN_EINVAL;
    uint32_t limit = req->limit ? req->limit : QUERY_LIMIT_DEFAULT;
    Witan__ModelsResponse *r = calloc(1, sizeof *r);
    if (!r)
        return WITAN_ENOMEM;
    witan__models_response__init(r);
    store_txn *txn;
    int err = store_read_begin(l->s, &txn);
    if (err) {
        free(r);
        return err;
    }
    store_cursor *c;
    err = store_cursor_open(txn, STORE_MODELS, &c);
    const void *k, *v;
    size_t ks, vs;
    const ProtobufCBinaryData *from = req->hash.len ? &req->hash : &req->cursor;
    if (!err)
        err = store_cursor_seek(c, from->data, from->len, &k, &ks, &v, &vs);
    for (; err == 0; err = store_cursor_next(c, &k, &ks, &v, &vs)) {
        if (req->hash.len && (ks != WITAN_HASH_SIZE ||
                              memcmp(k, req->hash.data, WITAN_HASH_SIZE) != 0))
            break;
        if (r->n_models == limit) {
            err = ledger_dup_bytes(&r->next_cursor, k, ks);
            break;
        }
        Witan__ModelRecord *m = witan__model_record__unpack(NULL, vs, v);
        void *grown = m ? realloc(r->models, (r->n_models + 1) * sizeof *r->models)
                        : NULL;
        if (!grown) {
            if (m)
                witan__model_record__free_unpacked(m, NULL);
            err = m ? WITAN_ENOMEM : WITAN_EDBCORRUPT;
            break;
        }
        if (!req->hash.len) {
            /* Listing: the bytes are fetched one model at a time. */
            free(m->model.data);
            m->model = (ProtobufCBinaryData){0, NULL};
        }
        r->models = grown;
        r->models[r->n_models++] = m;
        if (req->hash.len)
            break;
    }
    if (err == WITAN_ENOTFOUND)
        err = WITAN_OK;
    if (!err && req->hash.len && r->n_models == 0)
        err = WITAN_ENOTFOUND;
    store_cursor_close(c);
    store_abort(txn);
    if (err) {
        ledger_models_response_free(r);
        return err;
    }
    *out = r;
    return WITAN_OK;
}
