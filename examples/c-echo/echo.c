/*
 * A warren guest in C, on the raw ABI (include/warren.h): a process per TCP connection
 * echoing what it reads, after a short tour of processes, messages and monitors.
 *
 *   clang --target=wasm32-wasi -O2 -I include examples/c-echo/echo.c -o echo-c.wasm
 *   warren run echo-c.wasm 127.0.0.1:7000
 *
 * It prints what it does; connect with `nc 127.0.0.1 7000` and type.
 */
#include <stdio.h>
#include <string.h>

#include "warren.h"

WARREN_DEFINE_ENTRY()

/* A process answering one request: the captures hold the requester's pid; it waits for a
 * number and sends back its square, as 8 bytes each. */
static void squarer(const uint8_t *args, uint32_t len) {
    int64_t requester;
    if (len != sizeof requester) return;
    memcpy(&requester, args, sizeof requester);
    int64_t n;
    if (warren_receive(0, &n, sizeof n, WARREN_FOREVER, NULL) != sizeof n) return;
    int64_t square = n * n;
    warren_send(requester, 0, &square, sizeof square);
}

/* A process that crashes: its monitor learns why. */
static void crasher(const uint8_t *args, uint32_t len) {
    (void)args;
    (void)len;
    static const char msg[] = "the crasher gives up";
    warren_panic(msg, sizeof msg - 1);
    __builtin_trap();
}

/* Spawn `entry` monitored, and wait for its DOWN: the first byte of the exit reason. */
static int wait_down(int64_t tag) {
    uint8_t reason[256];
    int64_t n = warren_receive(tag, reason, sizeof reason, WARREN_FOREVER, NULL);
    return n > 0 ? reason[0] : -1;
}

/* A connection's process: the captures carry the connection as handle #0. */
static void echo(const uint8_t *args, uint32_t len) {
    (void)args;
    (void)len;
    int64_t conn = warren_claim(0);
    if (conn < 0) {
        fprintf(stderr, "echo: no connection in the captures: %s\n", warren_last_error());
        return;
    }
    static uint8_t buf[16384];
    for (;;) {
        int64_t n = warren_read((uint32_t)conn, buf, sizeof buf);
        if (n <= 0) break; /* the peer closed (0) or an error */
        for (int64_t off = 0; off < n;) {
            int64_t w = warren_write((uint32_t)conn, buf + off, (uint32_t)(n - off));
            if (w <= 0) return;
            off += w;
        }
    }
}

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:7000";
    int64_t me = warren_self();

    /* A process, a request, a reply. */
    int64_t sq = warren_spawn(squarer, &me, sizeof me, 0);
    if (sq < 0) {
        fprintf(stderr, "echo: spawn failed: %s\n", warren_last_error());
        return 1;
    }
    int64_t n = 12, square = 0;
    warren_send(sq, 0, &n, sizeof n);
    warren_receive(0, &square, sizeof square, WARREN_FOREVER, NULL);
    printf("squarer %lld: %lld squared is %lld\n", (long long)sq, (long long)n,
           (long long)square);

    /* A monitored process that crashes alone. */
    int64_t tag = warren_new_tag();
    int64_t c = warren_spawn(crasher, NULL, 0, tag);
    int kind = wait_down(tag);
    printf("crasher %lld ended: %s\n", (long long)c,
           kind == WARREN_REASON_PANIC ? "panic" : kind == WARREN_REASON_TRAP ? "trap" : "?");

    /* A process per connection. */
    int64_t listener = warren_tcp_bind(addr, (uint32_t)strlen(addr));
    if (listener < 0) {
        fprintf(stderr, "echo: cannot listen on %s: %s\n", addr, warren_last_error());
        return 1;
    }
    char bound[64];
    int64_t blen = warren_local_addr((uint32_t)listener, bound, sizeof bound - 1);
    bound[blen > 0 && blen < (int64_t)sizeof bound ? blen : 0] = 0;
    printf("echo: listening on %s\n", bound);
    fflush(stdout);
    for (;;) {
        int64_t conn = warren_tcp_accept((uint32_t)listener);
        if (conn < 0) {
            fprintf(stderr, "echo: accept failed: %s\n", warren_last_error());
            continue;
        }
        uint32_t h = (uint32_t)conn;
        /* The connection moves into the child with its captures. */
        if (warren_attach(&h, 1) != 0 || warren_spawn(echo, NULL, 0, 0) < 0) {
            fprintf(stderr, "echo: cannot start a connection process: %s\n",
                    warren_last_error());
            warren_drop(h);
        }
    }
}
