/* Host driver for firmware/stream/rnnmcu_policy.c: reads a policy configuration and per-step
 * scores on stdin, prints "E step class confidence" for each event and "R step" for each model
 * reset request.  tests/test_stream.py compares it with codegen/stream_policy.py. */
#include <stdio.h>
#include <stdlib.h>

#include "rnnmcu_policy.h"

int main(void)
{
    rnnmcu_policy_config_t cfg;
    rnnmcu_policy_t p;
    unsigned n, smooth, reset, k, elem;
    int idle;
    long alpha, thr;
    unsigned long holdoff, reset_n, T, t;
    static int32_t ema[256];
    static uint8_t votes[256];
    static uint16_t counts[257];
    static int16_t y16[256];
    static int8_t y8[256];
    if (scanf("%u %u %u %u %d %ld %ld %lu %lu %u %lu", &n, &smooth, &reset, &k, &idle, &alpha, &thr,
              &holdoff, &reset_n, &elem, &T) != 11 || n > 254u || k > 255u) {
        return 2;
    }
    cfg.n_classes = (uint16_t)n;
    cfg.smooth = (uint8_t)smooth;
    cfg.reset = (uint8_t)reset;
    cfg.k = (uint16_t)k;
    cfg.idle_class = (int16_t)idle;
    cfg.alpha_q15 = (int32_t)alpha;
    cfg.threshold = (int32_t)thr;
    cfg.holdoff = (uint32_t)holdoff;
    cfg.reset_n = (uint32_t)reset_n;
    p.ema = ema;
    p.votes = votes;
    p.counts = counts;
    rnnmcu_policy_init(&p, &cfg);
    for (t = 0; t < T; t++) {
        rnnmcu_policy_event_t ev;
        unsigned i;
        int r;
        for (i = 0; i < n; i++) {
            int v;
            if (scanf("%d", &v) != 1) {
                return 2;
            }
            y16[i] = (int16_t)v;
            y8[i] = (int8_t)v;
        }
        r = rnnmcu_policy_update(&p, &cfg, elem == 1u ? (const void *)y8 : (const void *)y16,
                                 (uint8_t)elem, &ev);
        if (r & RNNMCU_POLICY_EVENT) {
            printf("E %lu %d %ld\n", t, ev.cls, (long)ev.confidence);
        }
        if (r & RNNMCU_POLICY_RESET_MODEL) {
            printf("R %lu\n", t);
        }
    }
    return 0;
}
