/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's side of the client API: one nng request/reply exchange per call,
 * and the small parsers and formatters every command shares (decimals,
 * times, flags, signing).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "node/node.h"
#include "render/render.h"

/* How tls+tcp:// nodes are verified, for the whole process: the CA file
 * their certificates must chain to, and the name they must carry ("": any
 * certificate of that CA). */
static struct {
    char ca[4096];
    char name[256];
} client_tls;

void cli_client_tls(const char *ca_path, const char *server_name)
{
    snprintf(client_tls.ca, sizeof client_tls.ca, "%s", ca_path ? ca_path : "");
    snprintf(client_tls.name, sizeof client_tls.name, "%s",
             server_name ? server_name : "");
}

static void home_path(const char *home, const char *name, char *out,
                      size_t out_size)
{
    if (name[0] == '/')
        snprintf(out, out_size, "%s", name);
    else
        snprintf(out, out_size, "%s/%s", home, name);
}

/* Why the --home given could not name a node (cli_call says it). */
static char home_error[4400];

void cli_node_address(const char *node, const char *home, char *out,
                      size_t out_size)
{
    if (node) {
        snprintf(out, out_size, "%s", node);
        return;
    }
    struct node_config cfg;
    node_config_defaults(&cfg);
    if (home) {
        char path[4096], why[256];
        snprintf(path, sizeof path, "%s/config", home);
        if (node_config_load(path, &cfg, why, sizeof why) != 0) {
            /* Never the default address instead: that may be another
             * chain's node, and a transaction signed for it lands there. */
            snprintf(home_error, sizeof home_error,
                     "--home %s: %s; no node asked (give --node URL to ask "
                     "one directly)",
                     home, why);
            out[0] = '\0';
            return;
        }
    }
    snprintf(out, out_size, "%s", cfg.listen);
    if (home && cfg.tls_ca[0] && strncmp(cfg.listen, "tls+tcp://", 10) == 0) {
        /* The home's own node: trust its CA, and expect the very name in
         * its certificate. */
        char ca[4096], cert[4096], name[256] = "";
        home_path(home, cfg.tls_ca, ca, sizeof ca);
        home_path(home, cfg.tls_cert, cert, sizeof cert);
        if (cli_tls_cert_name(cert, name, sizeof name) != 0)
            name[0] = '\0';
        cli_client_tls(ca, name);
    }
}

/* The --home whose genesis the node must serve: checked once, at the
 * first call (cli_call). */
static struct {
    char home[4096];
    bool done;
} chain_check;

void cli_node_connect(int argc, char **argv, char *out, size_t out_size)
{
    const char *home = cli_flag(argc, argv, "--home");
    snprintf(chain_check.home, sizeof chain_check.home, "%s",
             home ? home : "");
    chain_check.done = false;
    cli_node_address(cli_flag(argc, argv, "--node"),
                     cli_flag(argc, argv, "--home"), out, out_size);
    const char *ca = cli_flag(argc, argv, "--tls-ca");
    const char *name = cli_flag(argc, argv, "--tls-server-name");
    if (ca || name) {
        char kept[sizeof client_tls.ca];
        snprintf(kept, sizeof kept, "%s", client_tls.ca);
        cli_client_tls(ca ? ca : kept, name ? name : client_tls.name);
    }
}

/* Dials `address`, over TLS for tls+tcp:// (verifying the node as
 * client_tls says). Prints why it failed. */
static int dial(nng_socket s, const char *address)
{
    bool tls = strncmp(address, "tls+tcp://", 10) == 0;
    if (tls && !client_tls.ca[0]) {
        fprintf(stderr, "witan: %s is a TLS address: name the CA that "
                        "signed the node's certificate with --tls-ca FILE "
                        "(or use --home DIR)\n", address);
        return WITAN_ECONFIG;
    }
    nng_dialer d;
    nng_tls_config *cfg = NULL;
    int rc = nng_dialer_create(&d, s, address);
    if (!rc && tls) {
        rc = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
        if (!rc && (rc = nng_tls_config_ca_file(cfg, client_tls.ca)) != 0) {
            fprintf(stderr, "witan: cannot use %s as a CA: %s\n",
                    client_tls.ca, nng_strerror(rc));
            nng_tls_config_free(cfg);
            return WITAN_ECONFIG;
        }
        if (!rc)
            rc = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
        if (!rc && client_tls.name[0])
            rc = nng_tls_config_server_name(cfg, client_tls.name);
        if (!rc)
            rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
        if (cfg)
            nng_tls_config_free(cfg); /* the dialer holds its own */
    }
    if (!rc)
        rc = nng_dialer_start(d, 0);
    if (rc == NNG_EPEERAUTH || (tls && rc == NNG_ECRYPTO)) {
        fprintf(stderr,
                "witan: TLS handshake with %s failed, the node is not "
                "trusted: its certificate does not chain to the CA in "
                "%s%s%s (%s)\n",
                address, client_tls.ca,
                client_tls.name[0] ? " or does not name " : "",
                client_tls.name, nng_strerror(rc));
        return WITAN_ENET;
    }
    if (rc) {
        fprintf(stderr, "witan: cannot reach a node at %s: %s%s\n", address,
                nng_strerror(rc),
                !tls && (rc == NNG_ECONNSHUT || rc == NNG_ECLOSED ||
                         rc == NNG_EPROTO)
                    ? " (if it serves TLS, use its tls+tcp:// address)"
                    : "");
        return WITAN_ENET;
    }
    return WITAN_OK;
}

static int call_once(const char *address, const Witan__Request *req,
                     int timeout_ms, Witan__Response **resp)
{
    *resp = NULL;
    if (!address[0]) {
        fprintf(stderr, "witan: %s\n",
                home_error[0] ? home_error : "no node address");
        return WITAN_ECONFIG;
    }
    nng_socket s;
    int rc = nng_req0_open(&s);
    if (rc) {
        fprintf(stderr, "witan: %s\n", nng_strerror(rc));
        return WITAN_ENET;
    }
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, WITAN_MESSAGE_SIZE_MAX);
    int err = dial(s, address);
    if (err) {
        nng_close(s);
        return err;
    }
    size_t size = witan__request__get_packed_size(req);
    nng_msg *msg;
    rc = nng_msg_alloc(&msg, size);
    if (rc == 0) {
        witan__request__pack(req, nng_msg_body(msg));
        rc = nng_sendmsg(s, msg, 0);
        if (rc)
            nng_msg_free(msg);
    }
    if (rc == 0)
        rc = nng_recvmsg(s, &msg, 0);
    if (rc) {
        fprintf(stderr, "witan: request to %s failed: %s\n", address,
                nng_strerror(rc));
        nng_close(s);
        return rc == NNG_ETIMEDOUT ? WITAN_ETIMEOUT : WITAN_ENET;
    }
    *resp = witan__response__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    nng_close(s);
    if (!*resp) {
        fprintf(stderr, "witan: the node's answer is not a valid Response\n");
        return WITAN_EDECODE;
    }
    return WITAN_OK;
}

/* Whether the node at `address`, whose status answer is `resp`, serves
 * the chain of chain_check.home's genesis: 0, or WITAN_ECONFIG (said). A
 * home without a readable genesis is not checked. */
static int check_chain(const char *address, const Witan__Response *resp)
{
    char path[4200], why[256];
    snprintf(path, sizeof path, "%s/genesis.json", chain_check.home);
    Witan__Genesis *g = NULL;
    if (ledger_genesis_load(path, &g, why, sizeof why) != 0)
        return WITAN_OK;
    int err = WITAN_OK;
    const char *served = resp->kind_case == WITAN__RESPONSE__KIND_STATUS
                             ? resp->status->chain_id
                             : NULL;
    if (served && strcmp(served, g->chain_id) != 0) {
        fprintf(stderr,
                "witan: the node at %s serves chain %s, but %s's genesis is "
                "chain %s (give the --home of that "
                "chain, or --node the address of a node of %s)\n",
                address, served, chain_check.home, g->chain_id, g->chain_id);
        err = WITAN_ECONFIG;
    }
    ledger_genesis_free(g);
    return err;
}

/* With --home (cli_node_connect), the first call first makes sure the node
 * serves the home's chain: a status request of its own, or the answer of
 * one. */
int cli_call(const char *address, const Witan__Request *req, int timeout_ms,
             Witan__Response **resp)
{
    *resp = NULL;
    bool check = chain_check.home[0] && !chain_check.done && address[0];
    chain_check.done = true;
    if (!check)
        return call_once(address, req, timeout_ms, resp);
    if (req->kind_case == WITAN__REQUEST__KIND_STATUS) {
        int err = call_once(address, req, timeout_ms, resp);
        if (!err && (err = check_chain(address, *resp)) != 0) {
            witan__response__free_unpacked(*resp, NULL);
            *resp = NULL;
        }
        return err;
    }
    Witan__Request sreq = WITAN__REQUEST__INIT;
    Witan__StatusRequest st = WITAN__STATUS_REQUEST__INIT;
    sreq.kind_case = WITAN__REQUEST__KIND_STATUS;
    sreq.status = &st;
    Witan__Response *sresp = NULL;
    int err = call_once(address, &sreq, timeout_ms, &sresp);
    if (!err)
        err = check_chain(address, sresp);
    if (sresp)
        witan__response__free_unpacked(sresp, NULL);
    if (err)
        return err;
    return call_once(address, req, timeout_ms, resp);
}

int cli_response_error(const char *what, const Witan__Response *resp)
{
    if (!resp->error)
        return 0;
    fprintf(stderr, "witan: %s: %s (%s)\n", what, resp->error->message,
            resp->error->name);
    return 1;
}

int cli_parse_decimal(const char *text, int64_t *mantissa, uint32_t *scale)
{
    const char *p = text;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t m = 0;
    uint32_t sc = 0;
    bool dot = false, digits = false;
    for (; *p; p++) {
        if (*p == '.' && !dot) {
            dot = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return WITAN_EINVAL;
        digits = true;
        if (m > (UINT64_C(1) << 62) / 10)
            return WITAN_ERANGE;
        m = m * 10 + (uint64_t)(*p - '0');
        if (dot && ++sc > WITAN_DECIMAL_SCALE_MAX)
            return WITAN_ERANGE;
    }
    if (!digits)
        return WITAN_EINVAL;
    *mantissa = negative ? -(int64_t)m : (int64_t)m;
    *scale = sc;
    return WITAN_OK;
}

void cli_format_decimal(int64_t mantissa, uint32_t scale, char *out,
                        size_t out_size)
{
    char digits[32];
    uint64_t m = mantissa < 0 ? 0 - (uint64_t)mantissa : (uint64_t)mantissa;
    int n = snprintf(digits, sizeof digits, "%0*llu", (int)scale + 1,
                     (unsigned long long)m);
    if (scale == 0)
        snprintf(out, out_size, "%s%s", mantissa < 0 ? "-" : "", digits);
    else
        snprintf(out, out_size, "%s%.*s.%s", mantissa < 0 ? "-" : "",
                 n - (int)scale, digits, digits + n - (int)scale);
}

void cli_format_time(int64_t ms, char *out, size_t out_size)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void cli_format_fixed(int64_t v, uint32_t frac_bits, char *out,
                      size_t out_size)
{
    __int128 scaled = (__int128)v * 1000000;
    __int128 half = (__int128)1 << frac_bits >> 1;
    __int128 q = scaled >= 0 ? (scaled + half) >> frac_bits
                             : -((-scaled + half) >> frac_bits);
    long long whole = (long long)(q / 1000000);
    long long part = (long long)(q % 1000000);
    snprintf(out, out_size, "%s%lld.%06lld", q < 0 && whole == 0 ? "-" : "",
             whole, part < 0 ? -part : part);
}

int cli_sign_tx(const Witan__TxBody *body, const wcrypto_keypair *kp,
                uint8_t **out, size_t *out_size, uint8_t hash[WITAN_HASH_SIZE])
{
    size_t body_size = witan__tx_body__get_packed_size(body);
    uint8_t *body_bytes = malloc(body_size ? body_size : 1);
    if (!body_bytes)
        return WITAN_ENOMEM;
    witan__tx_body__pack(body, body_bytes);
    wcrypto_hash_tagged(WCRYPTO_TAG_TX, body_bytes, body_size, hash);
    uint8_t sig[WITAN_SIGNATURE_SIZE];
    int err = wcrypto_sign(kp, hash, sig);
    if (err) {
        free(body_bytes);
        return err;
    }
    Witan__Envelope env = WITAN__ENVELOPE__INIT;
    env.body = (ProtobufCBinaryData){body_size, body_bytes};
    env.key_type = (Witan__KeyType)kp->pub.type;
    env.pubkey = (ProtobufCBinaryData){kp->pub.size, (uint8_t *)kp->pub.bytes};
    env.signature = (ProtobufCBinaryData){WITAN_SIGNATURE_SIZE, sig};
    *out_size = witan__envelope__get_packed_size(&env);
    *out = malloc(*out_size);
    if (*out)
        witan__envelope__pack(&env, *out);
    free(body_bytes);
    return *out ? WITAN_OK : WITAN_ENOMEM;
}

int cli_next_nonce(const char *address, const uint8_t addr[WITAN_ADDRESS_SIZE],
                   uint64_t *nonce)
{
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__AccountRequest ar = WITAN__ACCOUNT_REQUEST__INIT;
    ar.address = (ProtobufCBinaryData){WITAN_ADDRESS_SIZE, (uint8_t *)addr};
    req.kind_case = WITAN__REQUEST__KIND_ACCOUNT;
    req.account = &ar;
    Witan__Response *resp;
    int err = cli_call(address, &req, 10000, &resp);
    if (err)
        return err;
    if (resp->error || !resp->account || !resp->account->account) {
        char hex[41];
        witan_hex_encode(addr, WITAN_ADDRESS_SIZE, hex);
        fprintf(stderr, "witan: account %s: %s\n", hex,
                resp->error ? resp->error->message : "not found");
        witan__response__free_unpacked(resp, NULL);
        return WITAN_ESENDER;
    }
    /* A node that predates next_nonce answers 0 there. */
    *nonce = resp->account->next_nonce ? resp->account->next_nonce
                                       : resp->account->account->nonce + 1;
    witan__response__free_unpacked(resp, NULL);
    return WITAN_OK;
}

const char *cli_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return argv[i + 1];
    return NULL;
}

int cli_has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

int cli_submit_wait(const char *address, const uint8_t *env, size_t env_size,
                    const uint8_t hash[WITAN_HASH_SIZE], bool wait,
                    bool nonce_taken_quiet, Witan__Response **out)
{
    *out = NULL;
    Witan__Request req = WITAN__REQUEST__INIT;
    Witan__SubmitRequest sr = WITAN__SUBMIT_REQUEST__INIT;
    ProtobufCBinaryData e = {env_size, (uint8_t *)env};
    sr.n_envelopes = 1;
    sr.envelopes = &e;
    req.kind_case = WITAN__REQUEST__KIND_SUBMIT;
    req.submit = &sr;
    Witan__Response *resp;
    if (cli_call(address, &req, 30000, &resp))
        return 1;
    int rc = cli_response_error("submit", resp);
    if (!rc && resp->submit && resp->submit->n_results == 1 &&
        resp->submit->results[0]->error && nonce_taken_quiet &&
        resp->submit->results[0]->error->code == WITAN_ENONCE) {
        rc = CLI_NONCE_TAKEN;
    } else if (!rc && resp->submit && resp->submit->n_results == 1 &&
               resp->submit->results[0]->error) {
        fprintf(stderr, "witan: refused: %s (%s)\n",
                resp->submit->results[0]->error->message,
                resp->submit->results[0]->error->name);
        rc = 1;
    }
    witan__response__free_unpacked(resp, NULL);
    if (rc || !wait)
        return rc;
    for (int attempt = 0; attempt < CLI_WAIT_POLL_COUNT_MAX; attempt++) {
        Witan__Request q = WITAN__REQUEST__INIT;
        Witan__TxRequest tr = WITAN__TX_REQUEST__INIT;
        tr.tx_hash = (ProtobufCBinaryData){WITAN_HASH_SIZE, (uint8_t *)hash};
        q.kind_case = WITAN__REQUEST__KIND_TX;
        q.tx = &tr;
        if (cli_call(address, &q, 10000, &resp))
            return 1;
        if (cli_response_error("tx", resp)) {
            witan__response__free_unpacked(resp, NULL);
            return 1;
        }
        if (resp->tx && nonce_taken_quiet &&
            resp->tx->state == WITAN__TX_STATE__TX_STATE_DROPPED) {
            witan__response__free_unpacked(resp, NULL);
            return CLI_NONCE_TAKEN;
        }
        if (resp->tx &&
            ((resp->tx->state == WITAN__TX_STATE__TX_STATE_COMMITTED &&
              resp->tx->receipt) ||
             resp->tx->state == WITAN__TX_STATE__TX_STATE_DROPPED)) {
            *out = resp;
            return 0;
        }
        witan__response__free_unpacked(resp, NULL);
        usleep(CLI_WAIT_POLL_MS * 1000);
    }
    char hex[2 * WITAN_HASH_SIZE + 1];
    witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
    fprintf(stderr, "witan: %s not committed in time\n", hex);
    return 1;
}

const char *cli_tx_status_name(Witan__TxStatus s)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&witan__tx_status__descriptor, s);
    return v ? v->name + strlen("TX_STATUS_") : "UNKNOWN";
}

int cli_print_settled(const uint8_t hash[WITAN_HASH_SIZE],
                      const Witan__TxResponse *t)
{
    char hex[2 * WITAN_HASH_SIZE + 1], by[2 * WITAN_HASH_SIZE + 1] =
                                           "(unknown)";
    witan_hex_encode(hash, WITAN_HASH_SIZE, hex);
    if (t->state == WITAN__TX_STATE__TX_STATE_DROPPED) {
        if (t->displaced_by.len == WITAN_HASH_SIZE)
            witan_hex_encode(t->displaced_by.data, WITAN_HASH_SIZE, by);
        printf("%s dropped: its nonce was taken by committed transaction "
               "%s\n",
               hex, by);
        return 1;
    }
    printf("%s committed at height %llu: %s\n", hex,
           (unsigned long long)t->receipt->height,
           cli_tx_status_name(t->receipt->status));
    return t->receipt->status == WITAN__TX_STATUS__TX_STATUS_OK ? 0 : 1;
}

int cli_tx_ok(const Witan__TxResponse *t)
{
    return t->state == WITAN__TX_STATE__TX_STATE_COMMITTED && t->receipt &&
                   t->receipt->status == WITAN__TX_STATUS__TX_STATUS_OK
               ? 0
               : 1;
}

int cli_print_tx_json(const uint8_t hash[WITAN_HASH_SIZE],
                      const Witan__TxResponse *t,
                      const Witan__RunsResponse *runs)
{
    struct render_json b = {0};
    if (t) {
        render_json_tx(&b, hash, t, NULL, runs);
    } else {
        render_json_puts(&b, "{\"tx_hash\":");
        render_json_hex(&b, hash, WITAN_HASH_SIZE);
        render_json_puts(&b, ",\"state\":\"TX_STATE_PENDING\"}");
    }
    int err = render_json_write(stdout, &b);
    return err ? cli_fail("output", err) : 0;
}

int cli_sender(int argc, char **argv, const wcrypto_keypair *kp,
               uint8_t sender[WITAN_ADDRESS_SIZE])
{
    const char *account = cli_flag(argc, argv, "--account");
    if (!account) {
        wcrypto_address(&kp->pub, sender);
        return 0;
    }
    if (strlen(account) != 2 * WITAN_ADDRESS_SIZE ||
        witan_hex_decode(account, sender, WITAN_ADDRESS_SIZE)) {
        fprintf(stderr, "witan: --account '%s' is invalid: an address is 40 "
                        "hex digits\n",
                account);
        return 2;
    }
    return 0;
}
