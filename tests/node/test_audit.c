/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan audit verify against a real chain: four witand validators on
 * 127.0.0.1 record a model with its target, a decision contract, CO2 and
 * temperature series; the whole chain then re-verifies from its genesis
 * file through a node's API and from a copy of a node's database, resumes
 * from a work folder, and from an exported archive; and fails, naming the
 * place, on copies tampered with: a byte flipped in a stored block (in
 * the same words on 1, 2, 4 and 8 threads), a
 * transaction taken out of one, a certificate below quorum or with a
 * signer outside the validator set, a model's weights replaced, a stored
 * decision or receipt edited in place, an archive with a byte changed.
 * Proofs of a decision and of its whole chain of evidence, fetched from a
 * validator, check with the genesis alone; edited ones (a Merkle path, the
 * record, a certificate's signature, a header, a link left out, another
 * chain's genesis) are refused, naming the step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "storage/storage.h"
#include "tests/node/nodetest.h"

#define NODES 4
#define OUT_SIZE (64 * 1024)

static char bin_dir[1000], dir[600];
static int base_port;

/* A shell command: its exit status, its output in out (OUT_SIZE). */
#define run(out, ...) nt_run(out, OUT_SIZE, __VA_ARGS__)

/* Opens the store of a copy, lets `edit` change it in one write
 * transaction, commits. */
static void tamper(const char *copy, void (*edit)(store_txn *))
{
    store *s;
    struct store_options o = {WITAN_MAP_SIZE_DEFAULT,
                              WITAN_MAP_SIZE_MAX_DEFAULT, false};
    assert_int_equal(store_open(copy, &o, &s), 0);
    store_txn *t;
    assert_int_equal(store_write_begin(s, &t), 0);
    edit(t);
    assert_int_equal(store_commit(t), 0);
    store_close(s);
}

/* Flips the low bit of the byte `back` bytes before the end of dir/name
 * (the last record's certificate, for an archive: its last signature), so
 * the byte changes whatever it held. */
static void flip_file_byte(const char *name, long back)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, -back, SEEK_END), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, -back, SEEK_END), 0);
    assert_int_equal(fputc(c ^ 1, f), c ^ 1);
    assert_int_equal(fclose(f), 0);
}

/* Block 3's last byte (inside its last transaction's signature). */
static void flip_block(store_txn *t)
{
    uint8_t key[8];
    store_be64(key, 3);
    const void *v;
    size_t vs;
    assert_int_equal(store_get(t, STORE_BLOCKS, key, 8, &v, &vs), 0);
    uint8_t *copy = malloc(vs);
    memcpy(copy, v, vs);
    copy[vs - 1] ^= 0x01;
    assert_int_equal(store_put(t, STORE_BLOCKS, key, 8, copy, vs), 0);
    free(copy);
}

/* The first block with two transactions or more, without its last one
 * (its header unchanged); its height in dropped_at. */
static uint64_t dropped_at;
static void drop_tx(store_txn *t)
{
    uint8_t key[8];
    const void *v;
    size_t vs;
    Witan__Block *b = NULL;
    for (dropped_at = 1; dropped_at < 100; dropped_at++) {
        store_be64(key, dropped_at);
        assert_int_equal(store_get(t, STORE_BLOCKS, key, 8, &v, &vs), 0);
        b = witan__block__unpack(NULL, vs, v);
        assert_non_null(b);
        if (b->n_txs >= 2)
            break;
        witan__block__free_unpacked(b, NULL);
        b = NULL;
    }
    assert_non_null(b);
    b->n_txs--;
    size_t size = witan__block__get_packed_size(b);
    uint8_t *buf = malloc(size);
    witan__block__pack(b, buf);
    b->n_txs++; /* so free_unpacked frees every transaction */
    witan__block__free_unpacked(b, NULL);
    assert_int_equal(store_put(t, STORE_BLOCKS, key, 8, buf, size), 0);
    free(buf);
}

/* Block 2's certificate with all but two signatures taken away. */
static void weaken_cert(store_txn *t)
{
    uint8_t key[8];
    store_be64(key, 2);
    const void *v;
    size_t vs;
    assert_int_equal(store_get(t, STORE_CERTS, key, 8, &v, &vs), 0);
    Witan__CommitCertificate *c = witan__commit_certificate__unpack(NULL, vs, v);
    assert_non_null(c);
    assert_true(c->n_signatures >= 3 && c->signers.len == 1);
    /* keep the two lowest signers */
    uint8_t kept = 0;
    int n = 0;
    for (int i = 0; i < 8 && n < 2; i++)
        if (c->signers.data[0] & (1u << i)) {
            kept |= (uint8_t)(1u << i);
            n++;
        }
    c->signers.data[0] = kept;
    c->n_signatures = 2;
    uint8_t buf[4096];
    size_t size = witan__commit_certificate__pack(c, buf);
    c->n_signatures = 3; /* so free_unpacked frees what it allocated */
    witan__commit_certificate__free_unpacked(c, NULL);
    assert_int_equal(store_put(t, STORE_CERTS, key, 8, buf, size), 0);
}

/* Block 2's certificate claiming a fifth signer, outside the set of four
 * (its signature is one of the others', so only the signer is wrong). */
static void outsider_cert(store_txn *t)
{
    uint8_t key[8];
    store_be64(key, 2);
    const void *v;
    size_t vs;
    assert_int_equal(store_get(t, STORE_CERTS, key, 8, &v, &vs), 0);
    Witan__CommitCertificate *c = witan__commit_certificate__unpack(NULL, vs, v);
    assert_non_null(c);
    assert_true(c->n_signatures >= 3 && c->signers.len == 1);
    /* the highest signer's bit moves to validator 4's */
    for (int i = 7; i >= 0; i--)
        if (c->signers.data[0] & (1u << i)) {
            c->signers.data[0] = (uint8_t)((c->signers.data[0] & ~(1u << i)) |
                                           (1u << 4));
            break;
        }
    uint8_t buf[4096];
    size_t size = witan__commit_certificate__pack(c, buf);
    witan__commit_certificate__free_unpacked(c, NULL);
    assert_int_equal(store_put(t, STORE_CERTS, key, 8, buf, size), 0);
}

/* The registered model's weights: a byte in the middle of its bytes. */
static void edit_model(store_txn *t)
{
    store_cursor *c;
    const void *k, *v;
    size_t ks, vs;
    assert_int_equal(store_cursor_open(t, STORE_MODELS, &c), 0);
    assert_int_equal(store_cursor_seek(c, "", 0, &k, &ks, &v, &vs), 0);
    uint8_t key[32];
    assert_int_equal(ks, sizeof key);
    memcpy(key, k, ks);
    Witan__ModelRecord *m = witan__model_record__unpack(NULL, vs, v);
    store_cursor_close(c);
    assert_non_null(m);
    assert_true(m->model.len > 64);
    m->model.data[m->model.len / 2] ^= 0x40;
    size_t size = witan__model_record__get_packed_size(m);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    witan__model_record__pack(m, buf);
    witan__model_record__free_unpacked(m, NULL);
    assert_int_equal(store_put(t, STORE_MODELS, key, ks, buf, size), 0);
    free(buf);
}

/* The first receipt's last byte (a receipt is not state: only the table
 * comparison sees it). */
static void edit_receipt(store_txn *t)
{
    store_cursor *c;
    const void *k, *v;
    size_t ks, vs;
    assert_int_equal(store_cursor_open(t, STORE_RECEIPTS, &c), 0);
    assert_int_equal(store_cursor_seek(c, "", 0, &k, &ks, &v, &vs), 0);
    uint8_t key[64], val[2048];
    assert_true(ks <= sizeof key && vs <= sizeof val);
    memcpy(key, k, ks);
    memcpy(val, v, vs);
    store_cursor_close(c);
    val[vs - 1] ^= 0x01;
    assert_int_equal(store_put(t, STORE_RECEIPTS, key, ks, val, vs), 0);
}

/* The first decision's last byte. */
static void edit_decision(store_txn *t)
{
    store_cursor *c;
    const void *k, *v;
    size_t ks, vs;
    assert_int_equal(store_cursor_open(t, STORE_DECISIONS, &c), 0);
    assert_int_equal(store_cursor_seek(c, "", 0, &k, &ks, &v, &vs), 0);
    uint8_t key[64], val[2048];
    assert_true(ks <= sizeof key && vs <= sizeof val);
    memcpy(key, k, ks);
    memcpy(val, v, vs);
    store_cursor_close(c);
    val[vs - 1] ^= 0x01;
    assert_int_equal(store_put(t, STORE_DECISIONS, key, ks, val, vs), 0);
}

/* Waits until the node's pool is empty. */
static void settle(const char *node)
{
    for (int k = 0; k < 600; k++) {
        uint64_t h;
        uint32_t pool = 1;
        if (nt_status(node, &h, &pool) && pool == 0)
            return;
        nt_sleep_ms(50);
    }
    fail_msg("the pool of %s did not empty", node);
}

/* Copies proof file src to dst with the base64 digit `skip` digits after
 * the first '"' following `anchor` changed: an edit an auditor must catch. */
static void mutate(const char *src, const char *dst, const char *anchor,
                   size_t skip)
{
    char *text;
    size_t size;
    assert_int_equal(witan_read_file(src, 8 << 20, &text, &size), 0);
    char *at = strstr(text, anchor);
    assert_non_null(at);
    at = strchr(at + strlen(anchor), '"');
    assert_non_null(at);
    char *c = at + 1 + skip;
    assert_true(c < text + size && *c != '"' && *c != '=' && *c != '\0');
    *c = *c == 'A' ? 'B' : 'A';
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, size, f), size);
    fclose(f);
    free(text);
}

/* Proofs from the running chain: one decision's record, and its whole
 * chain of evidence, each checked with the genesis alone; then edited
 * copies, each refused with the step that fails named. */
static void prove_and_check(const char *node, const char *gen)
{
    static char out[OUT_SIZE];
    assert_int_equal(run(out, "%s/witan decisions list --node %s 2>&1",
                         bin_dir, node),
                     0);
    const char *at = strstr(out, "decision ");
    if (!at)
        fail_msg("no decision was made: %s", out);
    char id[89];
    snprintf(id, sizeof id, "%.88s", at + 9);
    int rc = run(out, "%s/witan audit prove --decision %s --node %s --out "
                      "%s/decision.json 2>&1 && %s/witan audit check "
                      "%s/decision.json --genesis %s 2>&1",
                 bin_dir, id, node, dir, bin_dir, dir, gen);
    if (rc != 0 || !strstr(out, "wrote decision record"))
        fail_msg("decision proof: %s", out);
    rc = run(out, "%s/witan audit prove --decision %s --evidence --node %s "
                  "--out %s/evidence.json 2>&1 && %s/witan audit check "
                  "%s/evidence.json --genesis %s 2>&1",
             bin_dir, id, node, dir, bin_dir, dir, gen);
    if (rc != 0 || !strstr(out, "follows from model"))
        fail_msg("evidence: %s", out);
    print_message("%s", out);
    /* The transaction alone, by its hash (the model's registration is the
     * second proof of the evidence... any will do: the decision's own). */
    char *ev;
    size_t ev_size;
    assert_int_equal(witan_read_file(
                         (snprintf(out, sizeof out, "%s/decision.json", dir),
                          out),
                         8 << 20, &ev, &ev_size),
                     0);
    Witan__Proof *p;
    char why[256];
    assert_int_equal(ledger_proof_from_json(ev, ev_size, &p, why, sizeof why),
                     0);
    free(ev);
    Witan__Receipt *r =
        witan__receipt__unpack(NULL, p->receipt.len, p->receipt.data);
    assert_non_null(r);
    char tx[65];
    witan_hex_encode(r->tx_hash.data, 32, tx);
    witan__receipt__free_unpacked(r, NULL);
    witan__proof__free_unpacked(p, NULL);
    rc = run(out, "%s/witan audit prove %s --node %s > %s/tx.json && "
                  "%s/witan audit check %s/tx.json --genesis %s 2>&1",
             bin_dir, tx, node, dir, bin_dir, dir, gen);
    if (rc != 0 || !strstr(out, tx) || strstr(out, "record"))
        fail_msg("transaction proof: %s", out);
    print_message("%s", out);

    /* Edited copies. */
    static const struct {
        const char *anchor;
        size_t skip;
        const char *named;
    } edits[] = {
        {"\"receipts_path\"", 5, "receipts_path"},
        {"\"tx_path\"", 0, "tx_path"},
        {"\"value\":", 40, "record"},
        {"\"results_cert\":", 300, "results_cert"},
        {"\"header\":", 200, "header"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char src[700], dst[700];
        snprintf(src, sizeof src, "%s/decision.json", dir);
        snprintf(dst, sizeof dst, "%s/edited.json", dir);
        mutate(src, dst, edits[i].anchor, edits[i].skip);
        rc = run(out, "%s/witan audit check %s --genesis %s 2>&1", bin_dir,
                 dst, gen);
        if (rc != 1 || !strstr(out, "does NOT hold") ||
            !strstr(out, edits[i].named))
            fail_msg("an edit of %s: exit %d: %s", edits[i].named, rc, out);
        print_message("%s", out);
    }
    /* Evidence with one link left out: each proof still holds, the chain
     * of evidence does not. */
    snprintf(out, sizeof out, "%s/evidence.json", dir);
    assert_int_equal(witan_read_file(out, 8 << 20, &ev, &ev_size), 0);
    Witan__Proof **ps;
    size_t n;
    assert_int_equal(
        ledger_evidence_from_json(ev, ev_size, &ps, &n, why, sizeof why), 0);
    free(ev);
    assert_true(n >= 4);
    for (size_t drop = 1; drop < n; drop++) {
        const Witan__Proof *kept[LEDGER_EVIDENCE_PROOF_COUNT_MAX];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (i != drop)
                kept[k++] = ps[i];
        char *text;
        size_t size;
        assert_int_equal(ledger_evidence_to_json(kept, k, &text, &size), 0);
        char path[700];
        snprintf(path, sizeof path, "%s/partial.json", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, size, f), size);
        fclose(f);
        free(text);
        rc = run(out, "%s/witan audit check %s --genesis %s 2>&1", bin_dir,
                 path, gen);
        if (rc != 1 || !strstr(out, "is not among the proofs"))
            fail_msg("evidence without proof %zu: exit %d: %s", drop, rc, out);
    }
    for (size_t i = 0; i < n; i++)
        witan__proof__free_unpacked(ps[i], NULL);
    free(ps);
    /* Another chain's genesis. */
    rc = run(out, "%s/witan testnet init --validators 1 --dir %s/other "
                  "--base-port %d --chain-id other-chain "
                  "--allow-no-fault-tolerance >/dev/null 2>&1 && "
                  "%s/witan audit check %s/decision.json --genesis "
                  "%s/other/node0/genesis.json 2>&1",
             bin_dir, dir, base_port + 100, bin_dir, dir, dir);
    if (rc != 1 || !strstr(out, "another genesis"))
        fail_msg("another chain's genesis: exit %d: %s", rc, out);
}

static void test_audit(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    char home[700], key[700], node[64], gen[800];
    snprintf(home, sizeof home, "%s/net/node0", dir);
    snprintf(key, sizeof key, "%s/net/operator.key", dir);
    snprintf(node, sizeof node, "tcp://127.0.0.1:%d", base_port);
    snprintf(gen, sizeof gen, "%s/genesis.json", home);
    assert_int_equal(run(out, "%s/witan testnet init --validators %d --dir "
                              "%s/net --base-port %d --chain-id audit-test "
                              "2>&1 && %s/witan testnet start %s/net 2>&1",
                         bin_dir, NODES, dir, base_port, bin_dir, dir),
                     0);
    uint64_t h_start;
    for (int k = 0; k < 300 && !nt_status(node, &h_start, NULL); k++)
        nt_sleep_ms(20);

    /* A model with its target, the climate contract, ten years of data. */
    assert_int_equal(
        run(out,
            "%s/witan model register tests/fixtures/models/linreg_temp.bin "
            "--node %s --key %s --name temp "
            "--input feed=climate/co2/mauna-loa,subject=mauna-loa,value=co2 "
            "--input feed=climate/co2/mauna-loa,subject=mauna-loa,year "
            "--trigger climate/co2/mauna-loa:mauna-loa "
            "--target feed=climate/temp/global,subject=global,value=anomaly "
            "--wait 2>&1",
            bin_dir, node, key),
        0);
    const char *hash = strstr(out, "model ");
    assert_non_null(hash);
    char model[65];
    snprintf(model, sizeof model, "%.64s", hash + 6);
    assert_int_equal(run(out,
                         "%s/witan contract deploy --node %s --key %s --name "
                         "review --version 1 --gas 100000 --asm "
                         "contracts/examples/climate.wvs --model %s 2>&1",
                         bin_dir, node, key, model),
                     0);
    /* The temperatures once the CO2 has left the pool: the CLI takes the
     * next nonce from what the node committed. */
    int attest_rc = run(
        out,
        "{ head -n 1 tests/fixtures/data/co2-mm-mlo.csv; grep '^201[0-9]-' "
        "tests/fixtures/data/co2-mm-mlo.csv; } > %s/co2.csv && "
        "{ head -n 1 tests/fixtures/data/global-temp-monthly.csv; grep "
        "'^gcag,201[0-9]-' tests/fixtures/data/global-temp-monthly.csv; } "
        "> %s/temp.csv && "
        "%s/witan attest --node %s --key %s --feed climate/co2/mauna-loa "
        "--subject mauna-loa --unit ppm --file %s/co2.csv --columns "
        "time,-,co2,co2_deseasonalised,days,stddev,uncertainty --missing "
        "days=-1,stddev=-9.99,uncertainty=-0.99 2>&1",
        dir, dir, bin_dir, node, key, dir);
    if (attest_rc != 0)
        fail_msg("attest: %s", out);
    settle(node);
    attest_rc = run(out,
                    "%s/witan attest --node %s --key %s --feed "
                    "climate/temp/global --subject global --unit degC --file "
                    "%s/temp.csv --columns -,time,anomaly 2>&1",
                    bin_dir, node, key, dir);
    if (attest_rc != 0)
        fail_msg("attest: %s", out);
    /* every validator at the same height, the pool empty */
    uint64_t h0 = 0;
    for (int k = 0; k < 600; k++) {
        uint64_t h[NODES];
        uint32_t pool = 1;
        bool same = true;
        for (int i = 0; i < NODES; i++) {
            char a[64];
            snprintf(a, sizeof a, "tcp://127.0.0.1:%d", base_port + 10 * i);
            if (!nt_status(a, &h[i], i == 0 ? &pool : NULL))
                same = false;
            else if (h[i] != h[0])
                same = false;
        }
        if (same && pool == 0 && h[0] > 3) {
            h0 = h[0];
            break;
        }
        nt_sleep_ms(50);
    }
    assert_true(h0 > 3);
    nt_sleep_ms(500); /* the results of the last block, certified */

    /* Through a node's API. */
    int rc = run(out, "%s/witan audit verify --genesis %s --node %s 2>&1",
                 bin_dir, gen, node);
    if (rc != 0)
        fail_msg("audit verify: %s", out);
    assert_non_null(strstr(out, "verified"));
    rc = run(out, "%s/witan audit export --genesis %s --node %s --out "
                  "%s/chain.wa 2>&1",
             bin_dir, gen, node, dir);
    if (rc != 0)
        fail_msg("audit export: %s", out);

    prove_and_check(node, gen);

    /* From copies of a node's database, with the network stopped. */
    assert_int_equal(run(out, "%s/witan testnet stop %s/net 2>&1", bin_dir, dir),
                     0);
    assert_int_equal(run(out,
                         "for c in clean block cert decision receipt dropped "
                         "outsider model; "
                         "do cp -r "
                         "%s/net/node1/data %s/$c; done 2>&1",
                         dir, dir),
                     0);
    rc = run(out, "%s/witan audit verify --genesis %s --from %s/clean --work "
                  "%s/work 2>&1",
             bin_dir, gen, dir, dir);
    if (rc != 0)
        fail_msg("audit verify --from: %s", out);
    assert_non_null(strstr(out, "tables equal re-execution's"));
    /* again with the same work folder: nothing left to do */
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from "
                              "%s/clean --work %s/work 2>&1",
                         bin_dir, gen, dir, dir),
                     0);
    assert_non_null(strstr(out, "verified 0 blocks"));

    /* From the archive alone, then held to the genesis file; an archive
     * with one byte changed in its last block fails. */
    rc = run(out, "%s/witan audit verify --archive %s/chain.wa 2>&1", bin_dir,
             dir);
    if (rc != 0 || !strstr(out, "verified"))
        fail_msg("audit verify --archive: %s", out);
    assert_int_equal(run(out, "%s/witan audit verify --archive %s/chain.wa "
                              "--genesis %s 2>&1",
                         bin_dir, dir, gen),
                     0);
    assert_int_equal(run(out, "cp %s/chain.wa %s/bad.wa", dir, dir), 0);
    flip_file_byte("bad.wa", 100);
    rc = run(out, "%s/witan audit verify --archive %s/bad.wa 2>&1", bin_dir,
             dir);
    if (rc != 1 || !strstr(out, "block "))
        fail_msg("a changed archive: exit %d: %s", rc, out);

    char path[700];
    snprintf(path, sizeof path, "%s/block", dir);
    tamper(path, flip_block);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    if (!strstr(out, "block 3 "))
        fail_msg("a flipped byte in block 3: %s", out);
    /* The same words whether the signatures are checked as each block
     * applies or on threads ahead of it. */
    static char one[OUT_SIZE];
    assert_int_equal(run(one, "%s/witan audit verify --genesis %s --from %s "
                              "--threads 1 2>&1",
                         bin_dir, gen, path),
                     1);
    for (int threads = 2; threads <= 8; threads *= 2) {
        assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from "
                                  "%s --threads %d 2>&1",
                             bin_dir, gen, path, threads),
                         1);
        assert_string_equal(one, out);
    }

    snprintf(path, sizeof path, "%s/dropped", dir);
    tamper(path, drop_tx);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    char at[32];
    snprintf(at, sizeof at, "block %llu ", (unsigned long long)dropped_at);
    if (!strstr(out, at))
        fail_msg("a transaction taken out of block %llu: %s",
                 (unsigned long long)dropped_at, out);

    snprintf(path, sizeof path, "%s/cert", dir);
    tamper(path, weaken_cert);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    if (!strstr(out, "block 2 "))
        fail_msg("a certificate of block 2 below quorum: %s", out);

    snprintf(path, sizeof path, "%s/outsider", dir);
    tamper(path, outsider_cert);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    if (!strstr(out, "block 2 ") || !strstr(out, "outside"))
        fail_msg("a certificate of block 2 with a signer outside the set: %s",
                 out);

    snprintf(path, sizeof path, "%s/model", dir);
    tamper(path, edit_model);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    if (!strstr(out, "table models"))
        fail_msg("a model's weights replaced: %s", out);

    snprintf(path, sizeof path, "%s/decision", dir);
    tamper(path, edit_decision);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    if (!strstr(out, "table decisions"))
        fail_msg("an edited decision: %s", out);

    snprintf(path, sizeof path, "%s/receipt", dir);
    tamper(path, edit_receipt);
    assert_int_equal(run(out, "%s/witan audit verify --genesis %s --from %s "
                              "2>&1",
                         bin_dir, gen, path),
                     1);
    if (!strstr(out, "table receipts"))
        fail_msg("an edited receipt: %s", out);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(dir, sizeof dir, "%s/witan-audit-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Below the ephemeral ports, beside test_contracts' range. */
    base_port = 27300 + (int)(getpid() % 250) * 10;
    signal(SIGPIPE, SIG_IGN);
    char out[256];
    run(out, "mkdir -p %s", dir);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_audit)};
    int rc = cmocka_run_group_tests_name("audit", tests, NULL, NULL);
    static char end[OUT_SIZE];
    run(end, "%s/witan testnet stop %s/net >/dev/null 2>&1; true", bin_dir, dir);
    if (rc == 0)
        run(end, "rm -rf %s", dir);
    return rc;
}
