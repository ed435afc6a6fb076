/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validator-set changes by proposal on five real witand processes
 * (spec/governance.md section 7), without restarting the chain: validator
 * 4 is removed (its node stops at the boundary and the four others go on
 * with the new quorum). Node 1 is then killed, and stays down across the
 * next two changes: validator 4 is added back (its node starts from a
 * backup taken at the boundary, and with node 1 down every block after it
 * is certified with validator 4's signature), and validator 2's key is
 * rotated with no restart (the new key put in validator.next.key while the
 * node runs; blocks past the boundary carry its new-key signature). Node 1
 * comes back and catches up across both changes to the same chain; node 2,
 * restarted, finds its rotated key and certifies with it. A second
 * testnet removes validator 1, which shifts the places of 2, 3 and 4, while
 * node 3 is paused: it comes back and crosses the switch by itself; then
 * validator 1 is added back and its node, started from genesis with
 * sync_from, follows the chain until it is a member and signs. A proof of a
 * transaction after the three changes, and the latest signed head with its
 * set chain, check with the genesis alone; a head whose rotated
 * validator's line is signed by its old key is refused; and `audit
 * verify` re-executes the chain across the changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "tests/node/nodetest.h"

#define NODES 5
#define K 4 /* the testnet's checkpoint_interval */
#define OUT_SIZE (64 * 1024)
#define CHAIN "reconf-test"

static char bin_dir[1000];
static char dir[600];
static int base_port;

static void addr_of(int i, char *out, size_t size)
{
    snprintf(out, size, "tcp://127.0.0.1:%d", base_port + 10 * i);
}

#define run(out, ...) nt_run(out, OUT_SIZE, __VA_ARGS__)

/* `witan ARGS --node <node>` must exit with `status`; output in out. */
static void expect(int status, int node, char *out, const char *args)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    int rc = run(out, "%s/witan %s --node %s 2>&1", bin_dir, args, addr);
    if (rc != status)
        fail_msg("witan %s (node %d): exit %d, not %d:\n%s", args, node, rc,
                 status, out);
}

/* A key file's public key or address, as `keys show --json` prints it. */
static void key_field(const char *file, const char *field, char *out,
                      size_t size)
{
    static char text[OUT_SIZE];
    assert_int_equal(run(text, "%s/witan keys show %s --json", bin_dir, file),
                     0);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", field);
    const char *p = strstr(text, pat);
    if (!p)
        fail_msg("no %s in: %s", field, text);
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    assert_true(n < size);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Attests once by the testnet operator through `node` and waits until
 * every node in `alive` (a bit mask) has committed it; their height. */
static uint64_t sent; /* observation times never repeat */

/* Signs and submits one attestation by the testnet operator to `node`;
 * its hash. */
static void submit(int node, uint8_t hash[32])
{
    char key[700], addr[64];
    snprintf(key, sizeof key, "%s/operator.key", dir);
    wcrypto_keypair kp;
    assert_int_equal(wcrypto_keyfile_read(key, &kp), 0);
    uint8_t who[WITAN_ADDRESS_SIZE];
    wcrypto_address(&kp.pub, who);
    wcrypto_keypair_wipe(&kp);
    addr_of(node, addr, sizeof addr);
    uint64_t nonce;
    assert_int_equal(cli_next_nonce(addr, who, &nonce), 0);
    ProtobufCBinaryData env;
    nt_attest_time_base_ms = 1600000000000LL + (int64_t)sent++ * 60000;
    assert_int_equal(nt_sign_attestations(key, CHAIN, nonce, 1, &env,
                                          (uint8_t(*)[32])hash),
                     0);
    assert_true(nt_submit(addr, &env, 1, 1));
    free(env.data);
}

static uint64_t attest(int node, unsigned alive)
{
    char addr[64];
    uint8_t hash[32];
    submit(node, hash);
    for (int round = 0; round < 600; round++) {
        uint64_t h0 = 0, h;
        bool done = true;
        for (int i = 0; i < NODES && done; i++) {
            if (!(alive >> i & 1))
                continue;
            addr_of(i, addr, sizeof addr);
            done = nt_tx_state(addr, hash, NULL) ==
                       WITAN__TX_STATE__TX_STATE_COMMITTED &&
                   nt_status(addr, &h, NULL);
            if (done && h > h0)
                h0 = h;
        }
        if (done)
            return h0;
        nt_sleep_ms(100);
    }
    fail_msg("attestation not committed on every live node (mask %#x)",
             alive);
    return 0;
}

/* Starts node i's witand again, logging to DIR/node<i>/<log>, and records
 * its pid where `testnet stop` finds it. */
static pid_t start_node(int i, const char *log)
{
    char home[700], path[800], exe[1100];
    snprintf(home, sizeof home, "%s/node%d", dir, i);
    snprintf(path, sizeof path, "%s/%s", home, log);
    snprintf(exe, sizeof exe, "%s/witand", bin_dir);
    pid_t p = nt_spawn_witand(exe, home, path, NULL);
    assert_true(p > 0);
    snprintf(path, sizeof path, "%s/witand.pid", home);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%d\n", (int)p);
    fclose(f);
    return p;
}

/* Waits until node i has height h or more; its height. */
static uint64_t reach(int i, uint64_t h)
{
    char addr[64];
    addr_of(i, addr, sizeof addr);
    uint64_t at = 0;
    for (int k = 0; k < 600 && at < h; k++) {
        if (!nt_status(addr, &at, NULL))
            at = 0;
        nt_sleep_ms(100);
    }
    if (at < h)
        fail_msg("node %d stayed at %llu, the chain at %llu", i,
                 (unsigned long long)at, (unsigned long long)h);
    return at;
}

/* `node`'s answer to req over its client API (never NULL). */
static Witan__Response *ask(int node, const Witan__Request *req)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    nng_socket s;
    assert_true(nt_dial(addr, &s));
    Witan__Response *r = nt_rpc(s, req);
    nng_close(s);
    assert_non_null(r);
    return r;
}

/* The first byte of the signers bitmap of block `height`'s certificate,
 * as `node` has it: validator i of the set of that height is bit i. */
static uint8_t signers_of(int node, uint64_t height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest bq = WITAN__BLOCK_REQUEST__INIT;
    bq.height = height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &bq;
    Witan__Response *r = ask(node, &req);
    assert_non_null(r->block);
    assert_non_null(r->block->cert);
    assert_true(r->block->cert->signers.len >= 1);
    uint8_t first = r->block->cert->signers.data[0];
    witan__response__free_unpacked(r, NULL);
    return first;
}

/* Votes yes on `id` by the operators of the validators in `voters`. */
static void vote(unsigned long long id, unsigned voters, int node)
{
    static char out[OUT_SIZE];
    char args[1024];
    for (int i = 0; i < NODES; i++) {
        if (!(voters >> i & 1))
            continue;
        snprintf(args, sizeof args,
                 "vote %llu yes --key %s/node%d/operator.key", id, dir, i);
        expect(0, node, out, args);
    }
}

static unsigned long long propose(const char *args, int node)
{
    static char out[OUT_SIZE];
    char full[2048];
    snprintf(full, sizeof full, "%s --key %s/operator.key --deadline +100",
             args, dir);
    expect(0, node, out, full);
    const char *p = strstr(out, "proposal ");
    if (!p)
        fail_msg("no proposal id in: %s", out);
    return strtoull(p + strlen("proposal "), NULL, 10);
}

/* The newest validator set's first height and size, asked of `node`. */
static uint64_t newest_set(int node, size_t *count)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__ValidatorsRequest q = WITAN__VALIDATORS_REQUEST__INIT;
    req.kind_case = WITAN__REQUEST__KIND_VALIDATORS;
    req.validators = &q;
    Witan__Response *r = ask(node, &req);
    assert_int_equal(r->kind_case, WITAN__RESPONSE__KIND_VALIDATORS);
    const Witan__ValidatorSet *v = r->validators->pending
                                       ? r->validators->pending
                                       : r->validators->set;
    uint64_t first = v->first_height;
    *count = v->n_validators;
    witan__response__free_unpacked(r, NULL);
    return first;
}

/* Proposes a validator change (`witan propose ARGS`) through node 0, has
 * the operators of the validators in `voters` vote yes, and attests
 * (waiting on the nodes in `alive`) until the ledger stores the change:
 * its first height and its size. */
static uint64_t pass_change(const char *args, unsigned voters, unsigned alive,
                            size_t *count)
{
    uint64_t before = newest_set(0, count), first = before;
    unsigned long long id = propose(args, 0);
    vote(id, voters, 0);
    for (int k = 0; k < 100 && first == before; k++) {
        attest(0, alive);
        first = newest_set(0, count);
    }
    assert_true(first != before);
    return first;
}

static pid_t pid_of(int node)
{
    char path[700], text[32] = {0};
    snprintf(path, sizeof path, "%s/node%d/witand.pid", dir, node);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(text, sizeof text, f))
        text[0] = '\0';
    fclose(f);
    return (pid_t)atol(text);
}

static bool alive(pid_t pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

/* A fresh testnet per test, on its own directory and ports. */
static int setup(void **state)
{
    (void)state;
    static int testnets;
    char out[OUT_SIZE];
    snprintf(dir, sizeof dir, "%s/witan-reconfig-%d-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             testnets);
    /* Below 32768, apart from the other node tests' ranges; five nodes
     * take ten ports each. */
    base_port = 20000 + (int)(getpid() % 200) * 10 + 50 * testnets++;
    if (run(out, "%s/witan testnet init --validators %d --dir %s "
                 "--base-port %d --chain-id %s --checkpoint-interval %d 2>&1",
            bin_dir, NODES, dir, base_port, CHAIN, K) != 0 ||
        run(out, "%s/witan testnet start %s 2>&1", bin_dir, dir) != 0) {
        fprintf(stderr, "%s", out);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char out[OUT_SIZE];
    for (int i = 0; i < NODES; i++)
        if (alive(pid_of(i)))
            kill(pid_of(i), SIGCONT);
    run(out, "%s/witan testnet stop %s", bin_dir, dir);
    return 0;
}

/* A copy of proof.json with one base64 character of the last change's
 * `field` altered must be refused offline, naming that change's part. */
static void tampered_proof(const char *gen, const char *field,
                           const char *why)
{
    static char out[OUT_SIZE], proof[64 * 1024];
    char file[700], key[64];
    snprintf(file, sizeof file, "%s/proof.json", dir);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    size_t n = fread(proof, 1, sizeof proof - 1, f);
    fclose(f);
    assert_true(n < sizeof proof - 1);
    proof[n] = '\0';
    snprintf(key, sizeof key, "\"%s\": \"", field);
    char *last = NULL;
    for (char *p = strstr(proof, key); p; p = strstr(p + 1, key))
        last = p;
    assert_non_null(last);
    char *c = last + strlen(key) + 30; /* inside the value, not its end */
    assert_true(strchr(c, '"') > c);
    *c = *c == 'A' ? 'B' : 'A';
    snprintf(file, sizeof file, "%s/tampered-proof.json", dir);
    f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(proof, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    assert_int_not_equal(run(out, "%s/witan audit check %s --genesis %s 2>&1",
                             bin_dir, file, gen),
                         0);
    if (!strstr(out, why))
        fail_msg("tampered %s: expected \"%s\" in: %s", field, why, out);
}

/* The head (signed by the set in force from `first`, after validator 2's
 * rotation) with four of its five validators' lines, validator 2's either
 * as it was or signed by its rotated-out key under the same name: with
 * the genuine line four signed and it holds; with the old key's, that is
 * another key's line, three count, and it is refused. */
static void old_key_head(uint64_t first, const char *gen)
{
    static char out[OUT_SIZE], note[LEDGER_HEAD_SIZE_MAX],
        edited[LEDGER_HEAD_SIZE_MAX];
    char file[700], name0[128], name2[128], line[512];
    snprintf(file, sizeof file, "%s/head.txt", dir);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    size_t n = fread(note, 1, sizeof note - 1, f);
    fclose(f);
    note[n] = '\0';
    char *blank = strstr(note, "\n\n");
    assert_non_null(blank);
    size_t text_size = (size_t)(blank - note) + 1;
    snprintf(name0, sizeof name0, "\xe2\x80\x94 %s/%llu/0 ", CHAIN,
             (unsigned long long)first);
    snprintf(name2, sizeof name2, "\xe2\x80\x94 %s/%llu/2 ", CHAIN,
             (unsigned long long)first);
    int lines = 0;
    bool has2 = false;
    for (char *p = blank + 2; *p; p = strchr(p, '\n') + 1) {
        lines++;
        has2 |= strncmp(p, name2, strlen(name2)) == 0;
    }
    assert_true(lines >= 4);
    assert_true(has2);
    bool drop0 = lines == 5; /* leave four of five */
    wcrypto_keypair old;
    snprintf(file, sizeof file, "%s/node2-old.key", dir);
    assert_int_equal(wcrypto_keyfile_read(file, &old), 0);
    /* Validator 2's line under the same name by the old key: its key id
     * (proofs.md) and its signature over the text. */
    uint8_t blob[4 + 64], h[32], buf[200];
    char b64[128];
    size_t nl = strlen(name2) - 5; /* the name alone: no dash, no spaces */
    memcpy(buf, name2 + 4, nl);
    buf[nl] = '\n';
    buf[nl + 1] = 0x01;
    memcpy(buf + nl + 2, old.pub.bytes, 32);
    wcrypto_sha256(buf, nl + 2 + 32, h);
    memcpy(blob, h, 4);
    assert_int_equal(wcrypto_ed25519_sign_message(&old, note, text_size,
                                                  blob + 4),
                     0);
    wcrypto_keypair_wipe(&old);
    assert_true(wcrypto_base64_encode(blob, sizeof blob, b64, sizeof b64) > 0);
    for (int forged = 0; forged < 2; forged++) {
        memcpy(edited, note, text_size + 1);
        size_t at = text_size + 1;
        for (char *p = blank + 2; *p;) {
            char *eol = strchr(p, '\n');
            size_t len = (size_t)(eol - p) + 1;
            const char *src = p;
            if (forged && strncmp(p, name2, strlen(name2)) == 0) {
                len = (size_t)snprintf(line, sizeof line, "%s%s\n", name2,
                                       b64);
                src = line;
            }
            if (!(drop0 && strncmp(p, name0, strlen(name0)) == 0)) {
                memcpy(edited + at, src, len);
                at += len;
            }
            p = eol + 1;
        }
        snprintf(file, sizeof file, "%s/edited-head.txt", dir);
        f = fopen(file, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(edited, 1, at, f), at);
        fclose(f);
        int rc = run(out, "%s/witan audit check %s --genesis %s --sets "
                          "%s/sets.json 2>&1",
                     bin_dir, file, gen, dir);
        if (forged ? rc == 0 || !strstr(out, "signed by 3 of 5") : rc != 0)
            fail_msg("head %s validator 2's old key: %s",
                     forged ? "with" : "without", out);
    }
}

static void test_remove_and_add_back(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    char pub4[65], op4[41], args[1024];
    char file[700];
    snprintf(file, sizeof file, "%s/node4/validator.key", dir);
    key_field(file, "pubkey", pub4, sizeof pub4);
    snprintf(file, sizeof file, "%s/node4/operator.key", dir);
    key_field(file, "address", op4, sizeof op4);
    attest(0, 0x1f);

    /* Remove validator 4: four of five operators vote for it. */
    snprintf(args, sizeof args, "propose remove-validator --pubkey %s", pub4);
    size_t count = 0;
    uint64_t first = pass_change(args, 0x0f, 0x0f, &count);
    assert_int_equal(count, 4);
    uint64_t h = 0;
    while (h < first + 2)
        h = attest(1, 0x0f);
    /* The four go on without node 4. It stops at the boundary when it
     * reached it; one that lagged behind is no longer linked and stays
     * behind it (stopped here by hand). Either way it never has a block
     * of the new set. */
    pid_t p4 = pid_of(4);
    for (int k = 0; k < 100 && alive(p4); k++)
        nt_sleep_ms(100);
    char addr4[64];
    addr_of(4, addr4, sizeof addr4);
    uint64_t h4 = 0;
    if (alive(p4)) {
        assert_true(nt_status(addr4, &h4, NULL));
        assert_true(h4 < first);
        kill(p4, SIGKILL);
    } else {
        snprintf(file, sizeof file, "%s/node4/log", dir);
        assert_int_equal(run(out, "grep -c 'no longer validates' %s", file),
                         0);
    }

    /* Node 1 goes down (killed) and stays down across the next two
     * changes; it comes back after both. */
    pid_t p1 = pid_of(1);
    assert_true(alive(p1));
    kill(p1, SIGKILL);
    for (int k = 0; k < 100 && alive(p1); k++)
        nt_sleep_ms(50);
    assert_false(alive(p1));
    uint64_t h1_down;
    char addr[64];
    addr_of(0, addr, sizeof addr);
    assert_true(nt_status(addr, &h1_down, NULL));

    /* Add node 4 back; the operators of validators 0-2 vote (3 of 4 pass
     * it; node 1's operator votes through node 0). */
    snprintf(args, sizeof args,
             "propose add-validator --name node4 --pubkey %s --operator %s",
             pub4, op4);
    first = pass_change(args, 0x07, 0x0d, &count);
    assert_int_equal(count, 5);
    expect(0, 2, out, "validators");
    assert_non_null(strstr(out, "in force from height"));
    assert_non_null(strstr(out, "pending from height"));
    assert_non_null(strstr(out, pub4));
    /* 0, 2 and 3 carry the chain to the boundary E = first - 1; past it
     * they are no quorum of five (four are), and the chain waits for
     * node 4. */
    for (int k = 0; k < 100 && h < first - 1; k++) {
        uint8_t ignored[32];
        submit(0, ignored);
        nt_sleep_ms(200);
        assert_true(nt_status(addr, &h, NULL));
    }
    assert_int_equal(h, first - 1);
    snprintf(args, sizeof args, "validators --at %llu",
             (unsigned long long)first - 1);
    expect(0, 2, out, args);
    assert_non_null(strstr(out, ": 4 validators"));
    assert_null(strstr(out, pub4));

    /* Node 4 from a backup of node 0 taken at the boundary. */
    assert_int_equal(run(out, "rm -rf %s/node4/data && %s/witan node backup "
                              "--home %s/node0 --out %s/node4/data 2>&1",
                         dir, bin_dir, dir, dir),
                     0);
    p4 = start_node(4, "log");
    /* Node 1 down: 0, 2, 3 and 4 are the only quorum, so the block that
     * carries this attestation is certified with node 4's signature. */
    uint64_t h2 = attest(0, 0x1d);
    assert_true(h2 >= first);
    expect(0, 3, out, "validators --json");
    assert_non_null(strstr(out, pub4));
    assert_null(strstr(out, "\"pending\""));
    /* signers: a bitmap over the five; validator 4 is bit 4 */
    uint8_t signers = signers_of(4, h2);
    assert_true(signers & 0x10);
    assert_false(signers & 0x02);

    /* Rotate validator 2's key with no restart: its operator puts the new
     * key in validator.next.key while the node runs; at the boundary the
     * node signs with it, and the old key certifies nothing after. Node 1
     * is still down, so every block past the boundary needs node 2's
     * new-key signature. */
    char pub2[65], newpub[65], newkey[700];
    snprintf(file, sizeof file, "%s/node2/validator.key", dir);
    key_field(file, "pubkey", pub2, sizeof pub2);
    snprintf(newkey, sizeof newkey, "%s/node2/validator.next.key", dir);
    assert_int_equal(run(out, "%s/witan keys new --out %s 2>&1", bin_dir,
                         newkey),
                     0);
    key_field(newkey, "pubkey", newpub, sizeof newpub);
    assert_int_equal(run(out, "cp %s/node2/validator.key %s/node2-old.key "
                              "2>&1",
                         dir, dir),
                     0);
    pid_t p2 = pid_of(2);
    snprintf(args, sizeof args,
             "propose rotate-validator-key --pubkey %s --new-pubkey %s", pub2,
             newpub);
    uint64_t before = first;
    /* operators of 0, 2, 3 and 4: four of five */
    first = pass_change(args, 0x1d, 0x1d, &count);
    assert_true(first > before);
    h2 = 0;
    for (int k = 0; k < 100 && h2 < first + 1; k++)
        h2 = attest(0, 0x1d);
    assert_true(h2 >= first + 1);
    assert_true(alive(p2));
    assert_int_equal(pid_of(2), p2);
    snprintf(file, sizeof file, "%s/node2/log", dir);
    assert_int_equal(run(out, "grep -c 'validator key rotated' %s", file), 0);
    /* Certified by 0, 2 (its new key), 3 and 4. */
    signers = signers_of(2, h2);
    assert_true(signers & 0x04);
    assert_false(signers & 0x02);

    /* Node 1 comes back, down across two changes (the add and the
     * rotation): it starts with the set in force after its tip, follows
     * both by state transfer, and every block it fetches is checked
     * against the set of its height by the one validity function. */
    assert_true(h1_down < before);
    p1 = start_node(1, "log.2");
    addr_of(1, addr, sizeof addr);
    uint64_t h1 = reach(1, h2);
    attest(1, 0x1f);
    expect(0, 1, out, "validators");
    assert_non_null(strstr(out, newpub));
    assert_non_null(strstr(out, pub4));

    /* Node 2 restarted: it finds its rotated key in validator.next.key
     * (validator.key still holds the old one), and its consensus records
     * stay its own. With node 3 stopped, 0, 1, 2 and 4 are the quorum. */
    kill(p2, SIGTERM);
    for (int k = 0; k < 100 && alive(p2); k++)
        nt_sleep_ms(50);
    assert_false(alive(p2));
    p2 = start_node(2, "log.2");
    pid_t p3 = pid_of(3);
    assert_true(alive(p3));
    kill(p3, SIGSTOP);
    h2 = attest(0, 0x17);
    kill(p3, SIGCONT);
    assert_true(signers_of(0, h2) & 0x04);
    snprintf(file, sizeof file, "%s/node2/log.2", dir);
    assert_int_equal(run(out, "grep -c 'validator key rotated' %s", file), 0);
    assert_int_equal(run(out, "grep -c 'consensus records in .* are another' "
                              "%s",
                         file),
                     1);
    attest(3, 0x1f);

    /* The same chain: the block both have at the lower of their heights
     * (one may already hold the next, empty, block). */
    uint64_t h0;
    addr_of(0, addr, sizeof addr);
    assert_true(nt_status(addr, &h0, NULL));
    addr_of(1, addr, sizeof addr);
    assert_true(nt_status(addr, &h1, NULL));
    h = h0 < h1 ? h0 : h1;
    assert_true(h > h2);
    uint8_t hash1[32], hash0[32], root[32];
    assert_true(nt_block(addr, h, hash1, root));
    addr_of(0, addr, sizeof addr);
    assert_true(nt_block(addr, h, hash0, root));
    assert_memory_equal(hash0, hash1, 32);

    /* Auditors follow the three changes from the genesis alone
     * (proofs.md): a proof of a transaction past them carries them and
     * holds; so does the latest signed head with the set chain its node
     * hands out. */
    uint8_t last[32];
    char hex[65], gen[700];
    submit(0, last);
    attest(0, 0x1f);
    attest(0, 0x1f); /* block h + L is committed */
    witan_hex_encode(last, 32, hex);
    snprintf(gen, sizeof gen, "%s/node0/genesis.json", dir);
    snprintf(args, sizeof args, "audit prove %s --out %s/proof.json", hex,
             dir);
    expect(0, 0, out, args);
    assert_int_equal(run(out, "%s/witan audit check %s/proof.json --genesis "
                              "%s 2>&1",
                         bin_dir, dir, gen),
                     0);
    if (!strstr(out, "3 change(s)"))
        fail_msg("proof: %s", out);
    tampered_proof(gen, "validator_set",
                   "validator_changes[2]: validator_set: its hash is not");
    tampered_proof(gen, "cert", "validator_changes[2]: cert: block");
    char head_args[1400];
    snprintf(head_args, sizeof head_args,
             "audit head --out %s/head.txt --sets-out %s/sets.json", dir, dir);
    expect(0, 0, out, head_args);
    int rc = run(out, "%s/witan audit check %s/head.txt --genesis %s --sets "
                      "%s/sets.json 2>&1",
                 bin_dir, dir, gen, dir);
    if (rc != 0)
        fail_msg("head: %s", out);
    /* A head signed after the rotation is the new set's: it holds only
     * with the set chain. */
    unsigned long long head_size = 0;
    snprintf(file, sizeof file, "%s/head.txt", dir);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%*[^\n]\n%llu", &head_size), 1);
    fclose(f);
    if (head_size >= first) {
        assert_non_null(strstr(out, "3 set change(s)"));
        assert_int_not_equal(run(out, "%s/witan audit check %s/head.txt "
                                      "--genesis %s 2>&1",
                                 bin_dir, dir, gen),
                             0);
        assert_non_null(strstr(out, "does NOT hold"));
        old_key_head(first, gen);
    }
    /* Re-execution follows the changes too, block E's
     * next_validators_hash included. */
    char verify[1400];
    snprintf(verify, sizeof verify, "audit verify --genesis %s --quiet", gen);
    expect(0, 1, out, verify);
    /* So does an archive of the chain, checked from its own bytes. */
    snprintf(verify, sizeof verify,
             "audit export --genesis %s --out %s/chain.archive", gen, dir);
    expect(0, 0, out, verify);
    assert_int_equal(run(out, "%s/witan audit verify --archive %s/chain.archive "
                              "--genesis %s 2>&1",
                         bin_dir, dir, gen),
                     0);
}

/* Validator 1 is removed, which moves 2, 3 and 4 down one place, while
 * node 3 is paused from before the proposal to past the boundary: when it
 * comes back its peers have switched and address it by the new places,
 * and it them by the old ones (node/mesh.c, places). It catches up by
 * itself, switches, and votes in the new set: with node 4 stopped, 0, 2
 * and 3 are its only quorum. Then validator 1 is added back and its node
 * starts from genesis, following the chain (sync_from) until it is a
 * member again. */
static void test_lagging_across_a_removal(void **state)
{
    (void)state;
    char pub1[65], args[1024], file[700], addr[64];
    snprintf(file, sizeof file, "%s/node1/validator.key", dir);
    key_field(file, "pubkey", pub1, sizeof pub1);
    attest(0, 0x1f);
    pid_t p3 = pid_of(3);
    assert_true(alive(p3));
    kill(p3, SIGSTOP);
    snprintf(args, sizeof args, "propose remove-validator --pubkey %s", pub1);
    /* operators of 0, 1, 2 and 4: four of five */
    size_t count = 0;
    uint64_t first = pass_change(args, 0x17, 0x17, &count);
    assert_int_equal(count, 4);
    /* Past the boundary 0, 2 and 4 are a quorum of four; node 1 stops. */
    uint64_t h = 0;
    for (int k = 0; k < 100 && h < first + 3; k++)
        h = attest(0, 0x15);
    assert_true(h >= first + 3);
    pid_t p1 = pid_of(1);
    for (int k = 0; k < 100 && alive(p1); k++)
        nt_sleep_ms(100);
    assert_false(alive(p1));
    addr_of(3, addr, sizeof addr);
    kill(p3, SIGCONT);
    reach(3, h);
    /* It votes in the new set, at its new place 2 (bit 2). */
    pid_t p4 = pid_of(4);
    kill(p4, SIGSTOP);
    uint64_t h2 = attest(0, 0x0d);
    kill(p4, SIGCONT);
    uint8_t signers = signers_of(0, h2);
    assert_true(signers & 0x04);
    assert_false(signers & 0x08);
    addr_of(0, addr, sizeof addr);
    uint8_t hash3[32], hash0[32], root[32];
    assert_true(nt_block(addr, h2, hash0, root));
    addr_of(3, addr, sizeof addr);
    for (int k = 0; k < 100 && !nt_block(addr, h2, hash3, root); k++)
        nt_sleep_ms(100);
    assert_true(nt_block(addr, h2, hash3, root));
    assert_memory_equal(hash0, hash3, 32);

    /* Validator 1 is added back, and its node starts from genesis: with
     * sync_from it follows the chain from node 0 (every block checked by
     * its ledger) until the set in force holds its key, then takes part.
     * The operators of 0, 2 and 3 pass it (three of four). */
    static char out[OUT_SIZE];
    char op1[41];
    snprintf(file, sizeof file, "%s/node1/operator.key", dir);
    key_field(file, "address", op1, sizeof op1);
    snprintf(args, sizeof args,
             "propose add-validator --name node1 --pubkey %s --operator %s",
             pub1, op1);
    first = pass_change(args, 0x0d, 0x1d, &count);
    assert_int_equal(count, 5);
    /* 0, 2, 3 and 4 are a quorum of five: the chain passes the boundary
     * before node 1 starts. */
    for (int k = 0; k < 100 && h < first + 1; k++)
        h = attest(0, 0x1d);
    assert_true(h >= first + 1);
    char client0[64];
    addr_of(0, client0, sizeof client0);
    assert_int_equal(run(out, "rm -rf %s/node1/data && mkdir -m 700 %s/node1/data && sed -i "
                              "'s|^sync_from = .*|sync_from = %s|' "
                              "%s/node1/config 2>&1",
                         dir, dir, client0, dir),
                     0);
    p1 = start_node(1, "log.2");
    addr_of(1, addr, sizeof addr);
    reach(1, h);
    snprintf(file, sizeof file, "%s/node1/log.2", dir);
    assert_int_equal(run(out, "grep -c 'following the chain from' %s", file),
                     0);
    /* With node 4 stopped, 0, 1, 2 and 3 are the only quorum of five:
     * node 1, appended at place 4, signs. */
    kill(p4, SIGSTOP);
    h2 = attest(0, 0x0f);
    kill(p4, SIGCONT);
    signers = signers_of(1, h2);
    assert_true(signers & 0x10);
    assert_false(signers & 0x08);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remove_and_add_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lagging_across_a_removal, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
