/* rnnmcu — the streaming classifier core (see rnnmcu_stream.h).  Integer-only. */
#include <string.h>

#include "rnnmcu_model_iface.h"
#include "rnnmcu_port.h"
#include "rnnmcu_stream.h"

rnnmcu_stream_stats_t rnnmcu_stream_stats;

void rnnmcu_stream_init(void)
{
    const rnnmcu_stream_binding_t *b = &rnnmcu_stream_binding;
    rnnmcu_app_model.reset(rnnmcu_app_model.state);
    rnnmcu_policy_init(b->policy, &b->policy_cfg);
    memset(&rnnmcu_stream_stats, 0, sizeof rnnmcu_stream_stats);
}

int rnnmcu_stream_push(const void *xq, int masked, rnnmcu_stream_event_t *ev)
{
    const rnnmcu_stream_binding_t *b = &rnnmcu_stream_binding;
    rnnmcu_stream_stats_t *st = &rnnmcu_stream_stats;
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    rnnmcu_policy_event_t pev;
    uint32_t t0;
    uint32_t dt;
    int r;
    int fired = 0;
    uint32_t sample = st->samples++;
    if (masked) {
        st->masked++;
        return 0;
    }
    t0 = rnnmcu_port_counter();
    if (m->step == NULL || m->step(m->state, xq, b->y) != 0) {
        st->errors++;
        return 0;
    }
    st->steps++;
    r = rnnmcu_policy_update(b->policy, &b->policy_cfg, b->y, m->elem_size, &pev);
    if ((r & RNNMCU_POLICY_RESET_MODEL) != 0) {
        m->reset(m->state);
        st->resets++;
    }
    if ((r & RNNMCU_POLICY_EVENT) != 0) {
        ev->sample = sample;
        ev->cls = pev.cls;
        ev->confidence = pev.confidence;
        st->events++;
        fired = 1;
    }
    dt = rnnmcu_port_counter() - t0;
    st->ticks_last = dt;
    if (dt > st->ticks_max) {
        st->ticks_max = dt;
    }
    st->ticks_total_lo += dt;
    if (st->ticks_total_lo < dt) {
        st->ticks_total_hi++;
    }
    return fired;
}

uint32_t rnnmcu_stream_selftest(uint16_t n)
{
    /* the largest input any model takes on the replay link fits; a zero sample */
    static union {
        uint32_t align;
        uint8_t b[512];
    } zero;
    rnnmcu_stream_event_t ev;
    uint16_t i;
    uint32_t worst;
    rnnmcu_stream_init();
    if ((uint32_t)rnnmcu_app_model.input_dim * rnnmcu_app_model.in_elem_size > sizeof zero.b) {
        return 0u;
    }
    for (i = 0; i < n; i++) {
        (void)rnnmcu_stream_push(zero.b, 0, &ev);
    }
    worst = rnnmcu_stream_stats.ticks_max;
    rnnmcu_stream_init();
    return worst;
}

/* ---- text lines (no printf: the same on every libc) ---------------------------------------- */

typedef struct {
    char *buf;
    size_t cap;
    size_t n;
} line_t;

static void put_s(line_t *l, const char *s)
{
    while (*s != '\0' && l->n + 1u < l->cap) {
        char c = *s++;
        l->buf[l->n++] = ((c >= 0x20 && c <= 0x7E) || c == '\n') ? c : '?';
    }
    l->buf[l->n] = '\0';
}

static void put_u(line_t *l, uint32_t v)
{
    char tmp[11];
    int i = 10;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + (v % 10u));
        v /= 10u;
    } while (v != 0u);
    put_s(l, tmp + i);
}

static void put_i(line_t *l, int32_t v)
{
    if (v < 0) {
        put_s(l, "-");
        put_u(l, (uint32_t)(-(v + 1)) + 1u);
    } else {
        put_u(l, (uint32_t)v);
    }
}

static void put_hex(line_t *l, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[9];
    int i;
    for (i = 0; i < 8; i++) {
        tmp[i] = hex[(v >> (28 - 4 * i)) & 0xFu];
    }
    tmp[8] = '\0';
    put_s(l, tmp);
}

/* a * b / c in 64 bits, saturated to u32 (c != 0) */
static uint32_t muldiv(uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t v = (uint64_t)a * b / c;
    return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)v;
}

void rnnmcu_stream_banner_line(char *buf, size_t cap, uint32_t ticks_per_sample)
{
    const rnnmcu_stream_binding_t *b = &rnnmcu_stream_binding;
    uint32_t instr = ticks_per_sample * rnnmcu_board_info.counter_scale;
    uint32_t clock = rnnmcu_board_info.clock_hz;
    line_t l = {buf, cap, 0u};
    if (cap == 0u) {
        return;
    }
    buf[0] = '\0';
    put_s(&l, "rnnmcu stream ");
    put_s(&l, rnnmcu_app_model.name != NULL ? rnnmcu_app_model.name : "?");
    put_s(&l, " ");
    put_hex(&l, rnnmcu_app_model.hash);
    put_s(&l, " board=");
    put_s(&l, rnnmcu_board_info.board);
    put_s(&l, " rate_mhz=");
    put_u(&l, b->rate_mhz);
    put_s(&l, " clock_hz=");
    put_u(&l, clock);
    put_s(&l, " instr_per_sample=");
    put_u(&l, instr);
    if (clock != 0u && b->rate_mhz != 0u) {
        /* budget = clock / rate; load = instr / budget, in parts per million */
        uint32_t budget = muldiv(clock, 1000u, b->rate_mhz);
        put_s(&l, " budget=");
        put_u(&l, budget);
        put_s(&l, " load_ppm=");
        put_u(&l, budget != 0u ? muldiv(instr, 1000000u, budget) : 0u);
        put_s(&l, " compute_us=");
        put_u(&l, muldiv(instr, 1000000u, clock));
    }
    put_s(&l, " latency_steps=");
    put_u(&l, b->latency_steps);
    if (b->rate_mhz != 0u) {
        put_s(&l, " latency_us=");
        put_u(&l, muldiv(b->latency_steps, 1000000000u, b->rate_mhz));
    }
    put_s(&l, "\n");
}

void rnnmcu_stream_event_line(char *buf, size_t cap, const rnnmcu_stream_event_t *ev)
{
    const rnnmcu_stream_binding_t *b = &rnnmcu_stream_binding;
    line_t l = {buf, cap, 0u};
    if (cap == 0u) {
        return;
    }
    buf[0] = '\0';
    put_s(&l, "event ");
    put_u(&l, ev->sample);
    put_s(&l, " ");
    put_i(&l, ev->cls);
    put_s(&l, " ");
    put_s(&l, (ev->cls >= 0 && (uint16_t)ev->cls < b->policy_cfg.n_classes) ? b->class_names[ev->cls] : "?");
    put_s(&l, " ");
    put_i(&l, ev->confidence);
    put_s(&l, "\n");
}
