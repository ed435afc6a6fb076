/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan audit verify: an auditor's full check of a chain from its genesis
 * file alone. Every block is fetched (from a node, or from a copy of a
 * node's database) and applied to a ledger of the auditor's own with the
 * very code a validator runs: each header against the one before it, each
 * certificate against the validator set, each transaction's signature and
 * admission rules, and re-execution of every transaction — models,
 * contracts, decisions and scorecards included — whose state and receipts
 * roots must equal the ones the chain certified. The auditor's ledger is
 * kept in a work folder, so a later run resumes where this one stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "contracts/lang/lang.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "vm/vm.h"

static const char usage[] =
    "usage: witan audit verify --genesis FILE (--node URL | --home DIR |\n"
    "                          --from DATA_DIR) [--work DIR] [--quiet]\n"
    "                          [--threads N]\n"
    "       witan audit verify --archive FILE [--genesis FILE] [--work DIR]\n"
    "                          [--threads N]\n"
    "       witan audit export --genesis FILE (--node URL | --home DIR |\n"
    "                          --from DATA_DIR) --out FILE\n"
    "       witan audit prove (TX_HASH | --attestation KEY | --prediction KEY |\n"
    "                          --decision KEY [--evidence]) [--out FILE]\n"
    "       witan audit check (PROOF_FILE | HEAD_FILE) --genesis FILE\n"
    "                          [--sets FILE]\n"
    "       witan audit head [--size N] [--out FILE] [--sets-out FILE]\n"
    "       witan audit consistency OLD_HEAD NEW_HEAD --genesis FILE\n"
    "                          [--sets FILE] [--old-sets FILE]\n"
    "       witan audit source CONTRACT [--node URL | --home DIR] [--json]\n"
    "\n"
    "verify  re-verifies a whole chain from its genesis file: the hash\n"
    "        chain of every header, the transactions and history roots,\n"
    "        every commit certificate against the validator set, every\n"
    "        transaction's signature and admission rules, and the state\n"
    "        and receipts roots of every block, recomputed by executing it\n"
    "        again with the ledger code the validators run (models,\n"
    "        contracts, decisions, scorecards). Blocks come from a node\n"
    "        (--node, --home) or from a copy of a node's database (--from,\n"
    "        the node's HOME/data, read only). The auditor's own ledger is\n"
    "        kept in --work (default: a temporary folder, removed after);\n"
    "        run again with the same --work to go on from the height it\n"
    "        reached. Prints progress on a terminal (blocks/s, ETA) and a\n"
    "        summary; exits 0 only when every block holds, and otherwise\n"
    "        names the first block that does not and why. With --archive\n"
    "        the blocks and the genesis come from an archive that export\n"
    "        wrote (spec/audit.md): no node and no database needed; give\n"
    "        --genesis too to hold the archive to the genesis you trust.\n"
    "        --threads N checks the signatures of the blocks ahead on N\n"
    "        threads while one block executes (default: the online CPUs;\n"
    "        1 checks each as it applies); the verdict, the output and\n"
    "        the work folder are the same for every N.\n"
    "export  writes the whole chain to one self-contained archive: the\n"
    "        genesis, and every block with the certificate that finalised\n"
    "        it and the roots the source computed after it.\n"
    "prove   writes proof.json (spec/proofs.md) for a transaction, or for\n"
    "        the record an --attestation, --prediction or --decision key\n"
    "        names: its receipt and Merkle paths, its block's header and the\n"
    "        header and certificate of block h + L that certify them. With\n"
    "        --decision KEY --evidence, proofs of every link of the\n"
    "        decision's chain of evidence: its prediction, the contract's\n"
    "        deployment, the model's registration, every input attestation.\n"
    "check   verifies a proof or evidence file with the genesis alone and\n"
    "        says in one sentence what it proved; exits 1 naming the first\n"
    "        step that fails. Given a signed head, checks its signatures;\n"
    "        past a validator-set change, against the set --sets FILE leads\n"
    "        to (what head --sets-out wrote, or a proof of version 2).\n"
    "head    writes the node's latest signed history head (or the one of\n"
    "        --size blocks): a C2SP checkpoint of the chain's history tree,\n"
    "        co-signed by a quorum of validators every checkpoint_interval\n"
    "        blocks; --sets-out FILE writes the validator-set changes it\n"
    "        is checked against.\n"
    "consistency  checks two signed heads, then asks the node for an RFC\n"
    "        6962 consistency proof and verifies that the older history is\n"
    "        a prefix of the newer, against the signed roots. With\n"
    "        --old-sets the older head is checked with its own set chain\n"
    "        and the two chains are compared: a change where they\n"
    "        disagree is a fork signed by the set before it.\n"
    "source  fetches a contract's source, language, compiler and module\n"
    "        from the node, rebuilds the module from the source with the\n"
    "        compiler version recorded at deployment (language wcl:\n"
    "        spec/language.md; witan-asm: reassembled) and says whether it\n"
    "        is byte for byte the module that runs (and whether the source\n"
    "        map is the compiler's); exit 0 only on a match. A compiler\n"
    "        version this build does not have is refused, naming it.\n"
    "  --node URL [--tls-ca FILE]   a node's client API\n";

static const struct cli_opt verify_opts[] = {
    CLI_OPTS_NODE,           {"--genesis", true, false},
    {"--from", true, false}, {"--work", true, false},
    {"--archive", true, false}, {"--quiet", false, false},
    {"--threads", true, false}, {"--json", false, false},
    {NULL, false, false}};

static const struct cli_opt export_opts[] = {
    CLI_OPTS_NODE,           {"--genesis", true, false},
    {"--from", true, false}, {"--out", true, false},
    {"--json", false, false}, {NULL, false, false}};

/* An archive (spec/audit.md): the magic line, be32 size and the genesis
 * JSON, be64 block count, then per block be32 size and its Block,
 * be32 size and its CommitCertificate, its state root and receipts root. */
static const char archive_magic[] = "witan-archive/v1\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Where blocks come from: a node's API, a copy of its database, or an
 * archive read in order. */
struct source {
    char address[256];
    ledger *copy;
    FILE *archive;
    uint64_t archive_count, archive_next; /* blocks, those read */
};

static int read_be(FILE *f, int bytes, uint64_t *out)
{
    uint8_t b[8];
    if (fread(b, 1, (size_t)bytes, f) != (size_t)bytes)
        return WITAN_EDECODE;
    *out = 0;
    for (int i = 0; i < bytes; i++)
        *out = *out << 8 | b[i];
    return WITAN_OK;
}

/* One length-prefixed part of at most max bytes, malloc'd. */
static int read_part(FILE *f, size_t max, uint8_t **out, size_t *size)
{
    uint64_t n;
    int err = read_be(f, 4, &n);
    if (err)
        return err;
    if (n > max)
        return WITAN_ELIMIT;
    *out = malloc(n ? n : 1);
    if (!*out)
        return WITAN_ENOMEM;
    if (fread(*out, 1, n, f) != n) {
        free(*out);
        return WITAN_EDECODE;
    }
    *size = n;
    return WITAN_OK;
}

/* The archived block of `height` as a BlockResponse (owned); records are
 * heights 1, 2, ... in order, so those below it are skipped. */
static int archive_block(struct source *s, uint64_t height,
                         Witan__BlockResponse **out)
{
    for (;;) {
        if (s->archive_next >= s->archive_count)
            return WITAN_ENOTFOUND;
        uint8_t *block, *cert, roots[2 * WITAN_HASH_SIZE];
        size_t bs, cs;
        int err = read_part(s->archive, WITAN_BLOCK_SIZE_MAX, &block, &bs);
        if (err)
            return err;
        if ((err = read_part(s->archive, WITAN_HEADER_SIZE_MAX, &cert, &cs))) {
            free(block);
            return err;
        }
        /* The file ends with the last record (spec/audit.md): anything
         * after it is not the chain the archive claims to be. */
        if (fread(roots, 1, sizeof roots, s->archive) != sizeof roots ||
            (s->archive_next + 1 == s->archive_count &&
             fgetc(s->archive) != EOF)) {
            free(block);
            free(cert);
            return WITAN_EDECODE;
        }
        if (++s->archive_next < height) {
            free(block);
            free(cert);
            continue;
        }
        Witan__BlockResponse *r = calloc(1, sizeof *r);
        uint8_t *sr = malloc(WITAN_HASH_SIZE), *rr = malloc(WITAN_HASH_SIZE);
        if (!r || !sr || !rr) {
            free(r);
            free(sr);
            free(rr);
            free(block);
            free(cert);
            return WITAN_ENOMEM;
        }
        witan__block_response__init(r);
        r->block = witan__block__unpack(NULL, bs, block);
        r->cert = witan__commit_certificate__unpack(NULL, cs, cert);
        free(block);
        free(cert);
        memcpy(sr, roots, WITAN_HASH_SIZE);
        memcpy(rr, roots + WITAN_HASH_SIZE, WITAN_HASH_SIZE);
        r->state_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, sr};
        r->receipts_root = (ProtobufCBinaryData){WITAN_HASH_SIZE, rr};
        if (!r->block || !r->cert) {
            ledger_block_response_free(r);
            return WITAN_EDECODE;
        }
        *out = r;
        return WITAN_OK;
    }
}

/* One fetched block; free with block_done. */
struct fetched {
    Witan__Response *resp;   /* from a node */
    Witan__BlockResponse *b; /* points into resp, or owned (a copy) */
};

static void block_done(const struct source *s, struct fetched *f)
{
    if (f->resp)
        witan__response__free_unpacked(f->resp, NULL);
    else if (s->copy || s->archive)
        ledger_block_response_free(f->b);
    memset(f, 0, sizeof *f);
}

static int fetch_block(struct source *s, uint64_t height, struct fetched *f)
{
    memset(f, 0, sizeof *f);
    if (s->copy)
        return ledger_get_block(s->copy, height, &f->b);
    if (s->archive)
        return archive_block(s, height, &f->b);
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest br = WITAN__BLOCK_REQUEST__INIT;
    br.height = height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &br;
    int err = cli_call(s->address, &req, 30000, &f->resp);
    if (err)
        return err;
    if (cli_response_error("block", f->resp) || !f->resp->block ||
        !f->resp->block->block) {
        witan__response__free_unpacked(f->resp, NULL);
        f->resp = NULL;
        return WITAN_EDECODE;
    }
    f->b = f->resp->block;
    return WITAN_OK;
}

/* The chain's height, genesis hash and chain id as the source has them. */
static int source_tip(const struct source *s, uint64_t *height,
                      uint8_t genesis[WITAN_HASH_SIZE])
{
    if (s->copy) {
        struct ledger_tip tip;
        ledger_tip(s->copy, &tip);
        *height = tip.height;
        memcpy(genesis, ledger_genesis_hash_of(s->copy), WITAN_HASH_SIZE);
        return WITAN_OK;
    }
    if (s->archive) { /* its genesis is the one verify parsed */
        *height = s->archive_count;
        memset(genesis, 0, WITAN_HASH_SIZE);
        return WITAN_OK;
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__StatusRequest sr = WITAN__STATUS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_STATUS;
    req.status = &sr;
    Witan__Response *resp;
    int err = cli_call(s->address, &req, 30000, &resp);
    if (err)
        return err;
    if (cli_response_error("status", resp) || !resp->status ||
        resp->status->genesis_hash.len != WITAN_HASH_SIZE) {
        witan__response__free_unpacked(resp, NULL);
        return WITAN_EDECODE;
    }
    *height = resp->status->height;
    memcpy(genesis, resp->status->genesis_hash.data, WITAN_HASH_SIZE);
    witan__response__free_unpacked(resp, NULL);
    return WITAN_OK;
}

static void hex32(const uint8_t *d, char out[65])
{
    witan_hex_encode(d, WITAN_HASH_SIZE, out);
}

/* Removes the files of a work folder made here, then the folder. */
static void remove_work(const char *dir)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[600];
    for (size_t i = 0; i < WITAN_ARRAY_COUNT(files); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* The source as cli_verify_replay asks for it. */
static int source_fetch(void *ctx, uint64_t height,
                        const Witan__BlockResponse **out, void **handle)
{
    struct fetched *f = malloc(sizeof *f);
    if (!f)
        return WITAN_ENOMEM;
    int err = fetch_block(ctx, height, f);
    if (err) {
        free(f);
        return err;
    }
    *out = f->b;
    *handle = f;
    return WITAN_OK;
}

static void source_release(void *ctx, void *handle)
{
    block_done(ctx, handle);
    free(handle);
}

static void print_key(const void *k, size_t n)
{
    const uint8_t *b = k;
    for (size_t i = 0; i < n && i < 80; i++)
        fprintf(stderr, "%02x", b[i]);
    if (n > 80)
        fprintf(stderr, "... (%zu bytes)", n);
}

/* Tables whose every byte follows from the blocks: all but the node's own
 * bookkeeping (meta, its consensus log, its dropped transactions, the
 * signed heads it gathered). */
static bool derived_table(int t)
{
    return t != STORE_META && t != STORE_CONSENSUS && t != STORE_DROPS &&
           t != STORE_HEADS;
}

/* With a copy of a node's database: every table the blocks determine —
 * state, receipts, blocks, certificates, indexes — must hold exactly what
 * re-execution wrote, key for key (the roots alone would not show a
 * record edited in place after it was committed). 0, or 1 naming the
 * first difference. */
static int compare_state(ledger *mine, ledger *copy)
{
    store_txn *a, *b;
    if (store_read_begin(ledger_store(mine), &a))
        return cli_fail("audit", WITAN_EIO);
    if (store_read_begin(ledger_store(copy), &b)) {
        store_abort(a);
        return cli_fail("audit", WITAN_EIO);
    }
    int rc = 0;
    for (int t = 0; t < STORE_TABLE_COUNT && !rc; t++) {
        if (!derived_table(t))
            continue;
        store_cursor *ca = NULL, *cb = NULL;
        if (store_cursor_open(a, (enum store_table)t, &ca) ||
            store_cursor_open(b, (enum store_table)t, &cb)) {
            rc = cli_fail("audit", WITAN_EIO);
        } else {
            const void *ka, *va, *kb, *vb;
            size_t ksa, vsa, ksb, vsb;
            int ea = store_cursor_seek(ca, "", 0, &ka, &ksa, &va, &vsa);
            int eb = store_cursor_seek(cb, "", 0, &kb, &ksb, &vb, &vsb);
            while (!rc && (ea == 0 || eb == 0)) {
                int order;
                if (ea != 0)
                    order = 1;
                else if (eb != 0)
                    order = -1;
                else {
                    size_t n = ksa < ksb ? ksa : ksb;
                    order = memcmp(ka, kb, n);
                    if (!order)
                        order = (ksa > ksb) - (ksa < ksb);
                }
                const char *what = NULL;
                if (order < 0)
                    what = "re-execution wrote it; the copy lacks it";
                else if (order > 0)
                    what = "the copy has it; re-execution never wrote it";
                else if (vsa != vsb || memcmp(va, vb, vsa) != 0)
                    what = "the copy's value differs from re-execution's";
                if (what) {
                    fprintf(stderr, "state differs in table %s, key ",
                           store_table_name((enum store_table)t));
                    if (order > 0)
                        print_key(kb, ksb);
                    else
                        print_key(ka, ksa);
                    fprintf(stderr, ": %s\n", what);
                    rc = 1;
                    break;
                }
                ea = store_cursor_next(ca, &ka, &ksa, &va, &vsa);
                eb = store_cursor_next(cb, &kb, &ksb, &vb, &vsb);
            }
        }
        if (ca)
            store_cursor_close(ca);
        if (cb)
            store_cursor_close(cb);
    }
    store_abort(a);
    store_abort(b);
    return rc;
}

/* A genesis from JSON text; prints why not (what: where it came from). */
static int genesis_of(const char *json, size_t size, const char *cmd,
                      const char *what, Witan__Genesis **g)
{
    char why[LEDGER_WHY_SIZE];
    int err = ledger_genesis_parse(json, size, g, why, sizeof why);
    if (err)
        fprintf(stderr, "witan audit %s: %s: %s\n", cmd, what, why);
    return err;
}

static int genesis_file(const char *path, const char *cmd, char **json,
                        size_t *size, Witan__Genesis **g)
{
    int err = witan_read_file(path, WITAN_GENESIS_SIZE_MAX, json, size);
    if (err) {
        fprintf(stderr, "witan audit %s: %s: %s\n", cmd, path,
                witan_err_message(err));
        return err;
    }
    err = genesis_of(*json, *size, cmd, path, g);
    if (err)
        free(*json);
    return err;
}

/* Opens an archive: checks its magic and reads its genesis and block
 * count; the file stands at the first block. */
static int archive_open(const char *path, struct source *s, Witan__Genesis **g)
{
    s->archive = fopen(path, "rb");
    if (!s->archive) {
        fprintf(stderr, "witan audit verify: %s: cannot open it\n", path);
        return WITAN_EIO;
    }
    char magic[sizeof archive_magic - 1];
    uint8_t *json = NULL;
    size_t size;
    int err = fread(magic, 1, sizeof magic, s->archive) == sizeof magic &&
                      memcmp(magic, archive_magic, sizeof magic) == 0
                  ? WITAN_OK
                  : WITAN_EDECODE;
    if (!err)
        err = read_part(s->archive, WITAN_GENESIS_SIZE_MAX, &json, &size);
    if (!err)
        err = read_be(s->archive, 8, &s->archive_count);
    if (err) {
        fprintf(stderr, "witan audit verify: %s is not a Witan archive "
                        "(spec/audit.md): %s\n",
                path, witan_err_message(err));
        free(json);
        return err;
    }
    err = genesis_of((const char *)json, size, "verify", "the archive's genesis",
                     g);
    free(json);
    return err;
}

/* The verdict of audit verify --json, one object on stdout (what failed
 * is on stderr). 0, or 1 when it cannot be written. */
static int verify_json(const char *chain_id, const char *genesis_hex,
                       uint64_t start, uint64_t height,
                       const struct cli_verify_stats *st, bool ok,
                       const struct ledger_tip *tip, double secs)
{
    char root[65];
    hex32(tip->state_root, root);
    printf("{\"verified\":%s,\"chain_id\":", ok ? "true" : "false");
    witan_json_write_string(stdout, chain_id);
    printf(",\"genesis_hash\":\"%s\",\"from_height\":\"%llu\","
           "\"to_height\":\"%llu\",\"blocks\":\"%llu\","
           "\"transactions\":\"%llu\",\"height\":\"%llu\","
           "\"state_root\":\"%s\",\"elapsed_ms\":\"%llu\"}\n",
           genesis_hex, (unsigned long long)start + 1,
           (unsigned long long)height, (unsigned long long)st->blocks,
           (unsigned long long)st->txs, (unsigned long long)tip->height, root,
           (unsigned long long)(secs * 1000));
    return fflush(stdout) == 0 ? 0 : cli_fail("output", WITAN_EIO);
}

static int cmd_verify(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, verify_opts, 0, "audit verify"))
        return 2;
    const char *gpath = cli_flag(argc, argv, "--genesis");
    const char *from = cli_flag(argc, argv, "--from");
    const char *archive = cli_flag(argc, argv, "--archive");
    const char *work = cli_flag(argc, argv, "--work");
    unsigned threads = cli_verify_threads_default();
    const char *threads_text = cli_flag(argc, argv, "--threads");
    if (threads_text) {
        uint64_t n;
        if (cli_parse_u64("audit verify", "--threads", threads_text,
                          WITAN_POOL_THREADS_MAX, &n))
            return 2;
        if (n == 0) {
            fprintf(stderr, "witan audit verify: --threads takes 1 to %d\n",
                    WITAN_POOL_THREADS_MAX);
            return 2;
        }
        threads = (unsigned)n;
    }
    bool from_node = cli_flag(argc, argv, "--node") || cli_flag(argc, argv, "--home");
    if ((from != NULL) + (archive != NULL) + from_node != 1 ||
        (!gpath && !archive)) {
        fprintf(stderr, "witan audit verify: one source (--node URL, --home "
                        "DIR, --from DATA_DIR or --archive FILE) and, but "
                        "with an archive, --genesis FILE are required\n%s",
                usage);
        return 2;
    }
    struct source src;
    memset(&src, 0, sizeof src);
    Witan__Genesis *g = NULL;
    char *json = NULL;
    size_t json_size;
    int err;
    if (archive) {
        err = archive_open(archive, &src, &g);
        if (!err && gpath) { /* the archive's genesis must be the trusted one */
            Witan__Genesis *trusted;
            err = genesis_file(gpath, "verify", &json, &json_size, &trusted);
            if (!err) {
                uint8_t a[WITAN_HASH_SIZE], b[WITAN_HASH_SIZE];
                ledger_genesis_hash(g, a);
                ledger_genesis_hash(trusted, b);
                if (memcmp(a, b, WITAN_HASH_SIZE) != 0) {
                    fprintf(stderr, "witan audit verify: the archive's "
                                    "genesis is not %s's\n",
                            gpath);
                    err = WITAN_EGENESIS;
                }
                ledger_genesis_free(trusted);
                free(json);
            }
        }
    } else {
        err = genesis_file(gpath, "verify", &json, &json_size, &g);
        free(json);
    }
    if (err) {
        if (src.archive)
            fclose(src.archive);
        ledger_genesis_free(g);
        return 1;
    }
    if (!gpath)
        gpath = "the archive";
    char why[LEDGER_WHY_SIZE];
    uint8_t ghash[WITAN_HASH_SIZE], src_genesis[WITAN_HASH_SIZE];
    ledger_genesis_hash(g, ghash);

    struct store_options o = {WITAN_MAP_SIZE_DEFAULT, WITAN_MAP_SIZE_MAX_DEFAULT,
                              false};
    int rc = 1;
    ledger *mine = NULL;
    char workdir[512] = "";
    bool made = false;
    if (from) {
        err = ledger_open(from, g, &o, &src.copy, why, sizeof why);
        if (err) {
            fprintf(stderr, "witan audit verify: %s: %s\n", from, why);
            goto out;
        }
    } else {
        cli_node_connect(argc, argv, src.address, sizeof src.address);
    }
    uint64_t height;
    if ((err = source_tip(&src, &height, src_genesis))) {
        fprintf(stderr, "witan audit verify: cannot read the chain's tip: "
                        "%s\n",
                witan_err_message(err));
        goto out;
    }
    if (src.archive)
        memcpy(src_genesis, ghash, WITAN_HASH_SIZE);
    if (memcmp(src_genesis, ghash, WITAN_HASH_SIZE) != 0) {
        char a[65], b[65];
        hex32(ghash, a);
        hex32(src_genesis, b);
        fprintf(stderr, "witan audit verify: the source's chain has genesis "
                        "%s; %s has %s\n",
                b, gpath, a);
        goto out;
    }
    if (work) {
        snprintf(workdir, sizeof workdir, "%s", work);
        if (mkdir(workdir, 0700) != 0 && access(workdir, W_OK) != 0) {
            fprintf(stderr, "witan audit verify: --work %s: cannot use it\n",
                    workdir);
            goto out;
        }
    } else {
        snprintf(workdir, sizeof workdir, "%s/witan-audit-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(workdir)) {
            fprintf(stderr, "witan audit verify: cannot make a work folder "
                            "in %s\n",
                    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
            goto out;
        }
        made = true;
    }
    if ((err = ledger_open(workdir, g, &o, &mine, why, sizeof why))) {
        fprintf(stderr, "witan audit verify: work folder %s: %s\n", workdir,
                why);
        goto out;
    }
    struct ledger_tip tip;
    ledger_tip(mine, &tip);
    if (tip.height > height) {
        fprintf(stderr, "witan audit verify: the work folder reached height "
                        "%llu; the source has only %llu\n",
                (unsigned long long)tip.height, (unsigned long long)height);
        goto out;
    }
    bool as_json = cli_has_flag(argc, argv, "--json");
    bool quiet = cli_has_flag(argc, argv, "--quiet");
    uint64_t start = tip.height;
    char gh[65];
    hex32(ghash, gh);
    if (!quiet && !as_json)
        printf("verifying chain %s (genesis %s) from height %llu to %llu\n",
               g->chain_id, gh, (unsigned long long)start + 1,
               (unsigned long long)height);
    const struct cli_verify_source vs = {source_fetch, source_release, &src};
    struct cli_verify_stats stats;
    double t0 = now_s();
    /* The replay's pool, for this command alone. Threads that cannot be
     * started leave the checking to this one: slower, the same verdict. */
    witan_pool *pool = NULL;
    if (threads > 1 && witan_pool_new(threads, &pool) != 0)
        pool = NULL;
    rc = cli_verify_replay(mine, &vs, height, pool, !quiet, &stats);
    witan_pool_free(pool);
    if (rc == 0 && src.copy)
        rc = compare_state(mine, src.copy);
    double secs = now_s() - t0;
    if (as_json) {
        ledger_tip(mine, &tip);
        rc = verify_json(g->chain_id, gh, start, height, &stats, rc == 0,
                         &tip, secs) || rc;
    } else if (rc != 0) {
        fprintf(stderr, "witan audit verify: FAILED: %llu blocks (%llu "
                        "transactions) verified before the failure above\n",
                (unsigned long long)stats.blocks,
                (unsigned long long)stats.txs);
    } else {
        char root[65];
        ledger_tip(mine, &tip);
        hex32(tip.state_root, root);
        printf("verified %llu blocks (%llu transactions) in %.2f s: every "
               "header, certificate, signature and admission rule holds, and "
               "re-execution gives every state and receipts root the chain "
               "has%s\nheight %llu, state root %s\n",
               (unsigned long long)(height - start),
               (unsigned long long)stats.txs, secs,
               src.copy ? "; the copy's tables equal re-execution's, key for "
                          "key"
                        : "",
               (unsigned long long)tip.height, root);
    }
out:
    ledger_close(mine);
    ledger_close(src.copy);
    if (src.archive)
        fclose(src.archive);
    if (made)
        remove_work(workdir);
    ledger_genesis_free(g);
    return rc;
}

static int write_be(FILE *f, int bytes, uint64_t v)
{
    uint8_t b[8];
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
    return fwrite(b, 1, (size_t)bytes, f) == (size_t)bytes ? WITAN_OK : WITAN_EIO;
}

static int write_part(FILE *f, const void *data, size_t size)
{
    int err = write_be(f, 4, size);
    if (!err && size && fwrite(data, 1, size, f) != size)
        err = WITAN_EIO;
    return err;
}

/* One block record of an archive. */
static int write_block(FILE *f, const Witan__BlockResponse *b)
{
    if (!b->block || !b->cert || b->state_root.len != WITAN_HASH_SIZE ||
        b->receipts_root.len != WITAN_HASH_SIZE)
        return WITAN_EDECODE;
    size_t bs = witan__block__get_packed_size(b->block);
    size_t cs = witan__commit_certificate__get_packed_size(b->cert);
    uint8_t *buf = malloc(bs > cs ? bs : cs);
    if (!buf)
        return WITAN_ENOMEM;
    witan__block__pack(b->block, buf);
    int err = write_part(f, buf, bs);
    if (!err) {
        witan__commit_certificate__pack(b->cert, buf);
        err = write_part(f, buf, cs);
    }
    free(buf);
    if (!err && (fwrite(b->state_root.data, 1, WITAN_HASH_SIZE, f) !=
                     WITAN_HASH_SIZE ||
                 fwrite(b->receipts_root.data, 1, WITAN_HASH_SIZE, f) !=
                     WITAN_HASH_SIZE))
        err = WITAN_EIO;
    return err;
}

static int cmd_export(int argc, char **argv)
{
    if (cli_args_check(argc, argv, 2, export_opts, 0, "audit export"))
        return 2;
    const char *gpath = cli_flag(argc, argv, "--genesis");
    const char *from = cli_flag(argc, argv, "--from");
    const char *outp = cli_flag(argc, argv, "--out");
    bool from_node = cli_flag(argc, argv, "--node") || cli_flag(argc, argv, "--home");
    if (!gpath || !outp || (from != NULL) == from_node) {
        fprintf(stderr, "witan audit export: --genesis FILE, --out FILE and "
                        "one source (--node URL, --home DIR or --from "
                        "DATA_DIR) are required\n%s",
                usage);
        return 2;
    }
    char *json;
    size_t json_size;
    Witan__Genesis *g;
    if (genesis_file(gpath, "export", &json, &json_size, &g))
        return 1;
    struct source src;
    memset(&src, 0, sizeof src);
    struct store_options o = {WITAN_MAP_SIZE_DEFAULT, WITAN_MAP_SIZE_MAX_DEFAULT,
                              false};
    char why[LEDGER_WHY_SIZE], tmp[600];
    int rc = 1, err = 0;
    FILE *f = NULL;
    uint64_t height = 0;
    uint8_t ghash[WITAN_HASH_SIZE], src_genesis[WITAN_HASH_SIZE];
    ledger_genesis_hash(g, ghash);
    snprintf(tmp, sizeof tmp, "%s.partial", outp);
    if (from) {
        if (ledger_open(from, g, &o, &src.copy, why, sizeof why)) {
            fprintf(stderr, "witan audit export: %s: %s\n", from, why);
            goto out;
        }
    } else {
        cli_node_connect(argc, argv, src.address, sizeof src.address);
    }
    if ((err = source_tip(&src, &height, src_genesis)) ||
        memcmp(src_genesis, ghash, WITAN_HASH_SIZE) != 0) {
        fprintf(stderr, "witan audit export: %s\n",
                err ? witan_err_message(err)
                    : "the source's chain has another genesis than --genesis");
        goto out;
    }
    /* Written beside, renamed when whole: never a truncated archive. */
    f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "witan audit export: cannot write %s\n", tmp);
        goto out;
    }
    err = fwrite(archive_magic, 1, sizeof archive_magic - 1, f) ==
                  sizeof archive_magic - 1
              ? WITAN_OK
              : WITAN_EIO;
    if (!err)
        err = write_part(f, json, json_size);
    if (!err)
        err = write_be(f, 8, height);
    struct cli_progress shown;
    cli_progress_start(&shown, "audit export", "blocks", true);
    for (uint64_t h = 1; !err && h <= height; h++) {
        cli_progress_show(&shown, h - 1, height, false);
        struct fetched fb;
        if ((err = fetch_block(&src, h, &fb)) == 0) {
            err = write_block(f, fb.b);
            block_done(&src, &fb);
        }
        if (err) {
            cli_progress_break(&shown);
            fprintf(stderr, "witan audit export: block %llu: %s\n",
                    (unsigned long long)h, witan_err_message(err));
        }
    }
    if (!err)
        cli_progress_show(&shown, height, height, true);
    cli_progress_break(&shown);
    if (fclose(f) != 0 && !err)
        err = WITAN_EIO;
    f = NULL;
    if (!err && rename(tmp, outp) != 0)
        err = WITAN_EIO;
    if (err) {
        unlink(tmp);
        fprintf(stderr, "witan audit export: %s not written: %s\n", outp,
                witan_err_message(err));
        goto out;
    }
    char gh[65];
    hex32(ghash, gh);
    if (cli_has_flag(argc, argv, "--json")) {
        printf("{\"out\":");
        witan_json_write_string(stdout, outp);
        printf(",\"blocks\":\"%llu\",\"chain_id\":",
               (unsigned long long)height);
        witan_json_write_string(stdout, g->chain_id);
        printf(",\"genesis_hash\":\"%s\"}\n", gh);
    } else {
        printf("wrote %s: %llu blocks of chain %s, genesis %s\n", outp,
               (unsigned long long)height, g->chain_id, gh);
    }
    rc = 0;
out:
    ledger_close(src.copy);
    free(json);
    ledger_genesis_free(g);
    return rc;
}

/* --- audit source ------------------------------------------------------- */

/* Rebuilds a deployed contract's module from its source on chain with the
 * compiler recorded at deployment and compares it with the module that
 * runs. Source in the contract language needs that exact compiler version;
 * assembly (witan-asm) is reassembled. */
static int cmd_source(int argc, char **argv)
{
    static const struct cli_opt opts[] = {CLI_OPTS_NODE,
                                          {"--json", false, false},
                                          {NULL, false, false}};
    const char *what = "audit source", *idtext;
    if (cli_args_check(argc, argv, 2, opts, 1, what))
        return 2;
    if (cli_positional(argc, argv, 2, opts, 0, &idtext)) {
        fprintf(stderr, "witan %s: a CONTRACT id (64 hex digits) is "
                        "required\n", what);
        return 2;
    }
    uint8_t id[WITAN_HASH_SIZE];
    if (cli_parse_hash(what, "CONTRACT", idtext, id, sizeof id))
        return 2;
    bool json = cli_has_flag(argc, argv, "--json");
    /* What was found, for the closing line or object. */
    const char *verdict = NULL, *map_verdict = NULL;
    char x1[2 * WCRYPTO_HASH_SIZE + 1] = "", x2[2 * WCRYPTO_HASH_SIZE + 1] = "";
    size_t rebuilt_size = 0;
    char address[256];
    cli_node_connect(argc, argv, address, sizeof address);
    Witan__ContractsRequest q = WITAN__CONTRACTS_REQUEST__INIT;
    q.id = (ProtobufCBinaryData){sizeof id, id};
    Witan__Request req = WITAN__REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
    req.contracts = &q;
    Witan__Response *resp;
    if (cli_call(address, &req, 30000, &resp))
        return 1;
    if (cli_response_error("contracts", resp) || !resp->contracts) {
        witan__response__free_unpacked(resp, NULL);
        return 1;
    }
    int rc = 1;
    if (resp->contracts->n_contracts != 1) {
        fprintf(stderr, "witan %s: no contract %s\n", what, idtext);
        goto out;
    }
    const Witan__ContractRecord *c = resp->contracts->contracts[0];
    if (!json)
        printf("contract %s  %s v%u\n  language %s, compiler %s\n", idtext,
               c->name, c->version, c->language[0] ? c->language : "(none)",
               c->compiler[0] ? c->compiler : "(none)");
    if (!c->source[0]) {
        verdict = "no source on chain: nothing to check against";
        goto done;
    }
    uint8_t *bin = NULL;
    size_t size = 0;
    int e;
    if (strcmp(c->language, LANG_LANGUAGE_TAG) == 0) {
        uint32_t version;
        if (lang_compiler_parse(c->compiler, &version)) {
            fprintf(stderr, "witan %s: the compiler on chain, \"%s\", is "
                            "not %s N\n",
                    what, c->compiler, LANG_COMPILER_NAME);
            goto out;
        }
        if (version != LANG_COMPILER_VERSION) {
            fprintf(stderr, "witan %s: this build has no compiler \"%s\" "
                            "(it has %s); use a witan that does\n",
                    what, c->compiler, lang_compiler_id());
            goto out;
        }
        /* The file name only shows in the source map; take the map's. */
        char file[128] = "contract.wcl";
        const char *m = (const char *)c->source_map.data;
        size_t ml = c->source_map.len;
        const char *f = NULL;
        for (size_t i = 0; m && i + 6 <= ml && !f; i++)
            if (memcmp(m + i, "\nfile ", 6) == 0)
                f = m + i;
        if (f) {
            f += 6;
            size_t n = 0;
            while (f + n < m + ml && f[n] != '\n' && n + 1 < sizeof file)
                n++;
            memcpy(file, f, n);
            file[n] = 0;
        }
        lang_output o;
        e = lang_compile(file, c->source, strlen(c->source), version, false,
                         &o);
        if (e) {
            if (o.errors)
                fputs(o.errors, stderr);
            lang_output_free(&o);
            verdict = "MISMATCH: the source on chain does not compile";
            goto done;
        }
        bool map_same = c->source_map.len == o.source_map_size &&
                        memcmp(c->source_map.data, o.source_map,
                               o.source_map_size) == 0;
        if (c->source_map.len)
            map_verdict = map_same ? "matches" : "DIFFERS";
        if (c->source_map.len && !json)
            printf("  source map %s\n", map_verdict);
        bin = o.module;
        size = o.module_size;
        o.module = NULL;
        lang_output_free(&o);
    } else if (strcmp(c->language, "witan-asm") == 0) {
        vm_asm_error err;
        e = vm_assemble(c->source, strlen(c->source), &bin, &size, &err);
        if (e) {
            fprintf(stderr, "witan %s: line %u: %s\n", what, err.line,
                    err.message);
            verdict = "MISMATCH: the source on chain does not assemble";
            goto done;
        }
    } else {
        fprintf(stderr, "witan %s: language \"%s\" is not one this build "
                        "compiles (%s, witan-asm)\n",
                what, c->language, LANG_LANGUAGE_TAG);
        goto out;
    }
    uint8_t h1[WCRYPTO_HASH_SIZE], h2[WCRYPTO_HASH_SIZE];
    wcrypto_sha256(c->module.data, c->module.len, h1);
    wcrypto_sha256(bin, size, h2);
    witan_hex_encode(h1, sizeof h1, x1);
    witan_hex_encode(h2, sizeof h2, x2);
    bool same = size == c->module.len && memcmp(bin, c->module.data, size) == 0;
    if (!json)
        printf("  module on chain  %zu bytes, sha256 %s\n"
               "  module rebuilt   %zu bytes, sha256 %s\n",
               c->module.len, x1, size, x2);
    rebuilt_size = size;
    verdict = same ? "match: the module is built from the source on chain"
                   : "MISMATCH: the module is not the source's";
    free(bin);
    rc = same ? 0 : 1;
done:
    if (!json) {
        printf("%s\n", verdict);
    } else {
        printf("{\"contract\":\"%s\",\"name\":", idtext);
        witan_json_write_string(stdout, c->name);
        printf(",\"version\":%u,\"language\":", c->version);
        witan_json_write_string(stdout, c->language);
        printf(",\"compiler\":");
        witan_json_write_string(stdout, c->compiler);
        printf(",\"match\":%s,\"verdict\":", rc == 0 ? "true" : "false");
        witan_json_write_string(stdout, verdict);
        if (map_verdict)
            printf(",\"source_map_matches\":%s",
                   strcmp(map_verdict, "matches") == 0 ? "true" : "false");
        if (x1[0])
            printf(",\"module_bytes\":%zu,\"module_sha256\":\"%s\","
                   "\"rebuilt_bytes\":%zu,\"rebuilt_sha256\":\"%s\"",
                   c->module.len, x1, rebuilt_size, x2);
        printf("}\n");
    }
out:
    witan__response__free_unpacked(resp, NULL);
    return rc;
}

int cli_audit(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(argv[1], "export") == 0)
        return cmd_export(argc, argv);
    if (strcmp(argv[1], "source") == 0)
        return cmd_source(argc, argv);
    int rc = cli_audit_proof(argc, argv);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "witan audit: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}

/* `witan export chain`: the same archive, by the same code. */
int cli_audit_export(int argc, char **argv)
{
    return cmd_export(argc, argv);
}
