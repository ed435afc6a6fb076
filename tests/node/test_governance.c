/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Governance on four real witand processes (made and run by `witan
 * testnet`, one operator member per validator), driven through the witan
 * command as people would:
 *
 * - the testnet operator proposes block_tx_count_max = 2 with `witan
 *   propose set-param`; two operators' votes do not pass it, the third
 *   does (`witan vote`);
 * - attestations carry the chain to the boundary; every validator then
 *   answers the same proposal (ENACTED, the same effect height, the same
 *   events and votes) and the same parameters in force;
 * - a burst of attestations afterwards lands in blocks of at most two
 *   transactions on every validator, all committed;
 * - `witan proposals show` and `list` say so to a person;
 * - a proposal that fails by votes and one that expires are closed the
 *   same way on every validator, and change nothing.
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
#include <unistd.h>

#include "cli/cli.h"
#include "tests/node/nodetest.h"

#define NODES 4
#define K 4 /* the testnet's checkpoint_interval */
#define BURST 6
#define OUT_SIZE (64 * 1024)

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

static Witan__Response *call(int node, Witan__Request *req)
{
    char addr[64];
    addr_of(node, addr, sizeof addr);
    Witan__Response *r = NULL;
    assert_int_equal(cli_call(addr, req, 5000, &r), 0);
    assert_null(r->error);
    return r;
}

static uint8_t *packed(const Witan__Response *r, size_t *size)
{
    *size = witan__response__get_packed_size(r);
    uint8_t *b = malloc(*size ? *size : 1);
    assert_non_null(b);
    witan__response__pack(r, b);
    return b;
}

/* Every validator's answer to req, byte for byte the same; node 0's. A
 * validator a block behind (the CLI waits for its own node only) answers
 * as of that block, so the question is asked again until all agree. */
static Witan__Response *same_everywhere(Witan__Request *req)
{
    for (int round = 0; round < 100; round++) {
        Witan__Response *first = call(0, req);
        size_t s0;
        uint8_t *b0 = packed(first, &s0);
        bool same = true;
        for (int i = 1; i < NODES && same; i++) {
            Witan__Response *r = call(i, req);
            size_t s;
            uint8_t *b = packed(r, &s);
            same = s == s0 && memcmp(b, b0, s0) == 0;
            free(b);
            witan__response__free_unpacked(r, NULL);
        }
        free(b0);
        if (same)
            return first;
        witan__response__free_unpacked(first, NULL);
        nt_sleep_ms(100);
    }
    fail_msg("the validators' answers still differ after 10 s");
    return NULL;
}

/* Waits until every validator has committed `hash` and all are at one
 * height with empty pools; returns it. */
static uint64_t converge(const uint8_t hash[WITAN_HASH_SIZE])
{
    for (int round = 0; round < 600; round++) {
        uint64_t h0 = 0;
        bool same = true;
        for (int i = 0; i < NODES && same; i++) {
            char addr[64];
            uint64_t h;
            uint32_t pool;
            addr_of(i, addr, sizeof addr);
            same = nt_status(addr, &h, &pool) && pool == 0 &&
                   (h0 == 0 || h == h0) &&
                   nt_tx_state(addr, hash, NULL) ==
                       WITAN__TX_STATE__TX_STATE_COMMITTED;
            h0 = h;
        }
        if (same)
            return h0;
        nt_sleep_ms(100);
    }
    fail_msg("the validators did not converge");
    return 0;
}

/* The operator's next nonce, asked of node 0. */
static uint64_t next_nonce(const char *key_path)
{
    wcrypto_keypair kp;
    assert_int_equal(wcrypto_keyfile_read(key_path, &kp), 0);
    uint8_t addr[WITAN_ADDRESS_SIZE];
    wcrypto_address(&kp.pub, addr);
    wcrypto_keypair_wipe(&kp);
    char node[64];
    addr_of(0, node, sizeof node);
    uint64_t nonce;
    assert_int_equal(cli_next_nonce(node, addr, &nonce), 0);
    return nonce;
}

/* Submits `count` attestations by the operator (to node 0) and waits for
 * all validators to commit them; the height they agree on. */
static uint64_t attest(const char *key_path, size_t count)
{
    static uint64_t sent; /* observation times never repeat */
    ProtobufCBinaryData envs[BURST];
    uint8_t hashes[BURST][32];
    assert_true(count <= BURST);
    nt_attest_time_base_ms = 1600000000000LL + (int64_t)sent * 60000;
    sent += count;
    assert_int_equal(nt_sign_attestations(key_path, "gov-test",
                                          next_nonce(key_path), count, envs,
                                          hashes),
                     0);
    char addr[64];
    addr_of(0, addr, sizeof addr);
    assert_true(nt_submit(addr, envs, count, count));
    for (size_t i = 0; i < count; i++)
        free(envs[i].data);
    return converge(hashes[count - 1]);
}

/* The transaction count of block `height` on `node`. */
static uint32_t tx_count(int node, uint64_t height)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__BlockRequest bq = WITAN__BLOCK_REQUEST__INIT;
    bq.height = height;
    req.kind_case = WITAN__REQUEST__KIND_BLOCK;
    req.block = &bq;
    Witan__Response *r = call(node, &req);
    uint32_t n = (uint32_t)r->block->block->n_txs;
    witan__response__free_unpacked(r, NULL);
    return n;
}

static int setup(void **state)
{
    (void)state;
    char out[OUT_SIZE];
    assert_int_equal(run(out, "%s/witan testnet init --validators %d --dir %s "
                              "--base-port %d --chain-id gov-test "
                              "--checkpoint-interval %d 2>&1",
                         bin_dir, NODES, dir, base_port, K),
                     0);
    assert_int_equal(run(out, "%s/witan testnet start %s 2>&1", bin_dir, dir), 0);
    for (int i = 0; i < NODES; i++) {
        char addr[64];
        uint64_t h;
        int k = 0;
        addr_of(i, addr, sizeof addr);
        while (!nt_status(addr, &h, NULL) && k++ < 300)
            nt_sleep_ms(20);
        assert_true(k < 300);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char out[OUT_SIZE];
    run(out, "%s/witan testnet stop %s", bin_dir, dir);
    return 0;
}

static void test_parameter_change_by_operators(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    char args[4096], key[700];
    snprintf(key, sizeof key, "%s/operator.key", dir);

    snprintf(args, sizeof args,
             "propose set-param --param block_tx_count_max=2 --key %s "
             "--deadline +200 --rationale 'smaller blocks'",
             key);
    expect(0, 0, out, args);
    unsigned long long id = 0;
    const char *p = strstr(out, "proposal ");
    assert_non_null(p);
    id = strtoull(p + strlen("proposal "), NULL, 10);
    assert_true(id >= 1);

    /* The testnet operator votes for no validator. */
    snprintf(args, sizeof args, "vote %llu yes --key %s", id, key);
    expect(1, 1, out, args);
    assert_non_null(strstr(out, "lacks the validator_operator role"));

    /* Two operators are not enough of four; the third passes it. */
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "vote %llu yes --key %s/node%d/operator.key",
                 id, dir, i);
        expect(0, i, out, args);
        assert_non_null(strstr(out, ": OK"));
        /* Asked of the node that committed the vote. */
        snprintf(args, sizeof args, "proposals show %llu", id);
        expect(0, i, out, args);
        /* After the third, the next block (results of the vote's) may
         * already be the boundary. */
        if (i < 2 ? !strstr(out, ": OPEN")
                  : !strstr(out, ": PASSED") && !strstr(out, ": ENACTED"))
            fail_msg("after vote %d:\n%s", i, out);
    }

    /* The chain goes on to the boundary with attestations. */
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    q.id = id;
    req.kind_case = WITAN__REQUEST__KIND_PROPOSALS;
    req.proposals = &q;
    Witan__Response *r = call(0, &req);
    uint64_t boundary = r->proposals->proposals[0]->proposal->effect_height;
    uint64_t passed = r->proposals->proposals[0]->proposal->closed_height;
    witan__response__free_unpacked(r, NULL);
    assert_true(boundary % K == 0 && boundary >= passed + 1);
    uint64_t height = 0;
    while (height <= boundary)
        height = attest(key, 1);

    /* Every validator: enacted at the same boundary, the same events,
     * votes and parameters in force. */
    r = same_everywhere(&req);
    const Witan__ProposalInfo *info = r->proposals->proposals[0];
    assert_int_equal(info->proposal->status,
                     WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED);
    assert_int_equal(info->proposal->effect_height, boundary);
    assert_int_equal(info->proposal->yes, 3);
    assert_int_equal(info->n_votes, 3);
    assert_int_equal(info->n_events, 2);
    assert_int_equal(info->events[1]->height, boundary);
    assert_int_equal(r->proposals->params->block_tx_count_max, 2);
    witan__response__free_unpacked(r, NULL);

    /* A burst afterwards: blocks of at most two on every validator. */
    uint64_t before = height;
    height = attest(key, BURST);
    assert_true(height >= before + BURST / 2);
    for (int i = 0; i < NODES; i++)
        for (uint64_t h = before + 1; h <= height; h++)
            assert_true(tx_count(i, h) <= 2);

    snprintf(args, sizeof args, "proposals show %llu", id);
    expect(0, 2, out, args);
    assert_non_null(strstr(out, ": ENACTED"));
    assert_non_null(strstr(out, "set block_tx_count_max = 2"));
    assert_non_null(strstr(out, "governance/applied"));
    expect(0, 1, out, "proposals list");
    assert_non_null(strstr(out, "ENACTED"));
    assert_non_null(strstr(out, "block_tx_count_max 2,"));
    expect(0, 3, out, "proposals list --json");
    assert_non_null(strstr(out, "\"block_tx_count_max\""));
}

/* The id in `witan propose`'s output. */
static unsigned long long proposal_id(const char *out)
{
    const char *p = strstr(out, "proposal ");
    assert_non_null(p);
    unsigned long long id = strtoull(p + strlen("proposal "), NULL, 10);
    assert_true(id >= 1);
    return id;
}

/* Proposal `id` as every validator answers it, byte for byte the same. */
static Witan__Response *proposal_everywhere(unsigned long long id)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    q.id = id;
    req.kind_case = WITAN__REQUEST__KIND_PROPOSALS;
    req.proposals = &q;
    return same_everywhere(&req);
}

/* A proposal that fails by votes (two operators of four vote no: three yes
 * can no longer be had) and one that expires (no vote by its deadline):
 * every validator closes both the same way, and neither changes the
 * parameters in force. */
static void test_proposals_fail_and_expire(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    char args[4096], key[700];
    snprintf(key, sizeof key, "%s/operator.key", dir);
    Witan__Response *r = proposal_everywhere(0);
    uint32_t size_max = r->proposals->params->block_size_max;
    witan__response__free_unpacked(r, NULL);

    snprintf(args, sizeof args,
             "propose set-param --param block_size_max=%u --key %s "
             "--deadline +200 --rationale 'fails by votes'",
             size_max - 1024, key);
    expect(0, 0, out, args);
    unsigned long long failing = proposal_id(out);
    snprintf(args, sizeof args,
             "propose set-param --param block_size_max=%u --key %s "
             "--deadline +6 --rationale 'expires'",
             size_max - 2048, key);
    expect(0, 0, out, args);
    unsigned long long expiring = proposal_id(out);

    snprintf(args, sizeof args, "vote %llu yes --key %s/node0/operator.key",
             failing, dir);
    expect(0, 0, out, args);
    for (int i = 2; i < 4; i++) {
        snprintf(args, sizeof args,
                 "vote %llu no --key %s/node%d/operator.key", failing, dir, i);
        expect(0, i, out, args);
    }
    /* Votes after it closed are refused. */
    snprintf(args, sizeof args, "vote %llu yes --key %s/node1/operator.key",
             failing, dir);
    expect(1, 0, out, args);

    /* Past the second one's deadline. */
    r = proposal_everywhere(expiring);
    uint64_t deadline = r->proposals->proposals[0]->proposal->deadline;
    witan__response__free_unpacked(r, NULL);
    uint64_t height = 0;
    while (height <= deadline + 1)
        height = attest(key, 1);

    r = proposal_everywhere(failing);
    assert_int_equal(r->proposals->proposals[0]->proposal->status,
                     WITAN__PROPOSAL_STATUS__PROPOSAL_FAILED);
    assert_int_equal(r->proposals->proposals[0]->proposal->yes, 1);
    assert_int_equal(r->proposals->proposals[0]->proposal->no, 2);
    assert_int_equal(r->proposals->params->block_size_max, size_max);
    witan__response__free_unpacked(r, NULL);
    r = proposal_everywhere(expiring);
    assert_int_equal(r->proposals->proposals[0]->proposal->status,
                     WITAN__PROPOSAL_STATUS__PROPOSAL_EXPIRED);
    assert_int_equal(r->proposals->params->block_size_max, size_max);
    witan__response__free_unpacked(r, NULL);
    snprintf(args, sizeof args, "proposals show %llu", failing);
    expect(0, 3, out, args);
    assert_non_null(strstr(out, ": FAILED"));
    snprintf(args, sizeof args, "proposals show %llu", expiring);
    expect(0, 1, out, args);
    assert_non_null(strstr(out, ": EXPIRED"));
    /* A vote after the deadline is refused. */
    snprintf(args, sizeof args, "vote %llu yes --key %s/node1/operator.key",
             expiring, dir);
    expect(1, 1, out, args);
}

/* A contract deployed by proposal (governance.md section 7): voted through
 * by three operators, it exists from its boundary on every validator with
 * the Propose transaction's hash as its id and no operator; any member
 * calls it, and no member may retire it. */
static void test_contract_by_proposal(void **state)
{
    (void)state;
    static char out[OUT_SIZE];
    char args[4096], key[700], asm_path[700];
    snprintf(key, sizeof key, "%s/operator.key", dir);
    snprintf(asm_path, sizeof asm_path, "%s/adder.wvs", dir);
    FILE *f = fopen(asm_path, "w");
    assert_non_null(f);
    fputs(".func add i i -> i\n    add r0, r0, r1\n    ret r0\n.end\n"
          ".export add add\n",
          f);
    fclose(f);
    /* with a source map, which the proposal carries into the contract */
    static const char map_text[] = "add: lines 1-3\n";
    char map_path[700];
    snprintf(map_path, sizeof map_path, "%s/adder.map", dir);
    f = fopen(map_path, "w");
    assert_non_null(f);
    fputs(map_text, f);
    fclose(f);
    snprintf(args, sizeof args,
             "propose deploy-contract --name gov-adder --version 1 --asm %s "
             "--gas 1000 --key %s --deadline +200 --source-map %s",
             asm_path, key, map_path);
    expect(0, 0, out, args);
    const char *p = strstr(out, "proposal ");
    assert_non_null(p);
    unsigned long long id = strtoull(p + strlen("proposal "), NULL, 10);
    /* Its deploy flags are checked as contract deploy's are. */
    snprintf(args, sizeof args,
             "propose replace-contract --name x --version 1 --asm %s "
             "--gas 1000 --key %s",
             asm_path, key);
    expect(2, 0, out, args);
    assert_non_null(strstr(out, "--replaces ID"));

    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "vote %llu yes --key %s/node%d/operator.key",
                 id, dir, i);
        expect(0, i, out, args);
    }
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__ProposalsRequest q = WITAN__PROPOSALS_REQUEST__INIT;
    q.id = id;
    req.kind_case = WITAN__REQUEST__KIND_PROPOSALS;
    req.proposals = &q;
    Witan__Response *r = call(0, &req);
    const Witan__Proposal *pr = r->proposals->proposals[0]->proposal;
    /* The block after the third vote may already be the boundary. */
    assert_true(pr->status == WITAN__PROPOSAL_STATUS__PROPOSAL_PASSED ||
                pr->status == WITAN__PROPOSAL_STATUS__PROPOSAL_ENACTED);
    uint64_t boundary = pr->effect_height;
    char cid[65];
    assert_int_equal(pr->tx_hash.len, 32);
    witan_hex_encode(pr->tx_hash.data, 32, cid);
    witan__response__free_unpacked(r, NULL);
    uint64_t height = 0;
    while (height <= boundary)
        height = attest(key, 1);

    Witan__ContractsRequest cq = WITAN__CONTRACTS_REQUEST__INIT;
    uint8_t idb[32];
    assert_int_equal(witan_hex_decode(cid, idb, sizeof idb), 0);
    cq.id = (ProtobufCBinaryData){32, idb};
    Witan__Request creq = WITAN__REQUEST__INIT;
    creq.kind_case = WITAN__REQUEST__KIND_CONTRACTS;
    creq.contracts = &cq;
    r = same_everywhere(&creq);
    assert_int_equal(r->contracts->n_contracts, 1);
    assert_int_equal(r->contracts->contracts[0]->height, boundary);
    assert_int_equal(r->contracts->contracts[0]->operator_.len, 0);
    assert_int_equal(r->contracts->contracts[0]->source_map.len,
                     strlen(map_text));
    assert_memory_equal(r->contracts->contracts[0]->source_map.data, map_text,
                        strlen(map_text));
    witan__response__free_unpacked(r, NULL);

    snprintf(args, sizeof args, "contract show %s", cid);
    expect(0, 1, out, args);
    assert_non_null(strstr(out, "operator none: deployed by proposal"));
    snprintf(args, sizeof args, "contract call %s add --int 40 --int 2 --key %s",
             cid, key);
    expect(0, 2, out, args);
    assert_non_null(strstr(out, "42"));
    snprintf(args, sizeof args, "contract retire %s --key %s", cid, key);
    run(out, "%s/witan %s --node tcp://127.0.0.1:%d 2>&1", bin_dir, args,
        base_port);
    assert_null(strstr(out, ": OK"));
}

int main(int argc, char **argv)
{
    (void)argc;
    if (wcrypto_init() != 0)
        return 1;
    char exe[1024];
    snprintf(exe, sizeof exe, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s/../../bin", dirname(exe));
    snprintf(dir, sizeof dir, "%s/witan-governance-%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    /* Below 32768 (listeners must not meet ephemeral ports), as
     * test_contracts picks them. */
    base_port = 30000 + (int)(getpid() % 270) * 10;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_change_by_operators),
        cmocka_unit_test(test_contract_by_proposal),
        cmocka_unit_test(test_proposals_fail_and_expire),
    };
    int rc = cmocka_run_group_tests_name("governance", tests, setup, teardown);
    if (rc == 0) {
        char out[OUT_SIZE];
        run(out, "rm -rf %s", dir);
    }
    return rc;
}
