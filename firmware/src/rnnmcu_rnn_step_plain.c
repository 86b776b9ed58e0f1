/* rnnmcu — the readable reference of each integer recurrent step: one unit at a time, each gate
 * row's two dot products written out, no tiles, no arch kernels, no input projections.  It reads
 * the same model (rnnmcu_rnn_q_t, compact int8 weights) and gives the same h and c, bit for bit,
 * as the tiled steps of rnnmcu_<cell>_step.c (tests/test_codegen_c.py runs generated models on
 * both); those are what generated code calls, this is what to read first.
 *
 * Rows are unit-major: row G*j + g is gate g of unit j (g: RNNMCU_<CELL>_GATE_<G> of
 * rnnmcu_facts.h), in the packed layout of codegen/layout.py.  scratch: the units' new h, kept
 * until every unit has read the old h (units values of the activation's width). */
#include <string.h>

#include "rnnmcu_kernels.h"
#include "rnnmcu_ops.h"

/* W[row][col] of a packed int8 matrix of `cols` columns: blocks of RNNMCU_MV_ROWS rows, each
 * stored chunk of RNNMCU_MV_COLS columns after chunk */
static int32_t rnnmcu_plain_w(const int8_t *w, uint32_t row, uint32_t col, uint32_t cols)
{
    const uint32_t chunks = RNNMCU_MV_PAD(cols, RNNMCU_MV_COLS) / RNNMCU_MV_COLS;
    const uint32_t block = row / RNNMCU_MV_ROWS, chunk = col / RNNMCU_MV_COLS;
    return w[((block * chunks + chunk) * RNNMCU_MV_ROWS + row % RNNMCU_MV_ROWS) * RNNMCU_MV_COLS +
             col % RNNMCU_MV_COLS];
}

static int32_t rnnmcu_plain_get(const void *v, uint32_t i, int bits)
{
    return bits == 8 ? ((const int8_t *)v)[i] : ((const int16_t *)v)[i];
}

static void rnnmcu_plain_put(void *v, uint32_t i, int32_t a, int bits)
{
    if (bits == 8)
        ((int8_t *)v)[i] = (int8_t)rnnmcu_sat(a, -128, 127);
    else
        ((int16_t *)v)[i] = (int16_t)rnnmcu_sat16(a);
}

/* sum_i W[row][i] v[i] */
static int32_t rnnmcu_plain_dot(const int8_t *w, uint32_t row, const void *v, uint32_t cols, int bits)
{
    int32_t acc = 0;
    uint32_t i;
    for (i = 0; i < cols; i++)
        acc += rnnmcu_plain_w(w, row, i, cols) * rnnmcu_plain_get(v, i, bits);
    return acc;
}

/* The input side of a row, rq(W x) + b, and its recurrent side, rq(U h) */
static int32_t rnnmcu_plain_wx(const rnnmcu_rnn_q_t *p, uint32_t row, const void *x, int bits)
{
    const rnnmcu_row_q_t *rq = &p->rq[row];
    return rnnmcu_rq32_le(rnnmcu_plain_dot(p->w, row, x, p->input_dim, bits), rq->mx, rq->lx, rq->ex) + rq->b;
}

static int32_t rnnmcu_plain_uh(const rnnmcu_rnn_q_t *p, uint32_t row, const void *h, int bits)
{
    const rnnmcu_row_q_t *rq = &p->rq[row];
    return rnnmcu_rq32_le(rnnmcu_plain_dot(p->u, row, h, p->units, bits), rq->mh, rq->lh, rq->eh);
}

/* A row's pre-activation, rq(W x) + b + rq(U h) */
static int32_t rnnmcu_plain_pre(const rnnmcu_rnn_q_t *p, uint32_t row, const void *x, const void *h, int bits)
{
    return rnnmcu_plain_wx(p, row, x, bits) + rnnmcu_plain_uh(p, row, h, bits);
}

/* A gate: its table at the saturated pre-activation */
static int32_t rnnmcu_plain_gate(const int16_t *tab, int32_t pre)
{
    return rnnmcu_table(tab, rnnmcu_sat16_32(pre));
}

/* A peephole term p * v of peephole row g */
static int32_t rnnmcu_plain_peep(const rnnmcu_rnn_q_t *p, uint32_t g, uint32_t j, int32_t v)
{
    return (int32_t)rnnmcu_rq(p->p[g * p->units + j] * v, p->mp[g], p->shp[g]);
}

/* SimpleRNN: h_t = act(W x + U h + b) */
static void rnnmcu_simple_step_plain(const rnnmcu_rnn_q_t *p, const void *x, void *h, void *scratch, int bits)
{
    uint32_t j;
    for (j = 0; j < p->units; j++) {
        const int32_t a = rnnmcu_plain_gate(p->tab_act, rnnmcu_plain_pre(p, j, x, h, bits));
        rnnmcu_plain_put(scratch, j, rnnmcu_rshr(a, p->k), bits);
    }
}

/* LSTM: i, f, o = rec_act(row), g = act(row), c_t = f c + i g, h_t = o out_act(c_t); with
 * peepholes, i and f see c_{t-1} and o sees c_t */
static void rnnmcu_lstm_step_plain(const rnnmcu_rnn_q_t *p, const void *x, void *h, int16_t *c, void *scratch,
                                   int bits)
{
    const int32_t q = p->q;
    uint32_t j;
    for (j = 0; j < p->units; j++) {
        const uint32_t row = 4u * j;
        int32_t zi = rnnmcu_plain_pre(p, row + RNNMCU_LSTM_GATE_I, x, h, bits);
        int32_t zf = rnnmcu_plain_pre(p, row + RNNMCU_LSTM_GATE_F, x, h, bits);
        const int32_t zg = rnnmcu_plain_pre(p, row + RNNMCU_LSTM_GATE_C, x, h, bits);
        int32_t zo = rnnmcu_plain_pre(p, row + RNNMCU_LSTM_GATE_O, x, h, bits);
        int32_t i, f, g, o, c_new, t;
        if (p->p) {
            zi += rnnmcu_plain_peep(p, 0u, j, c[j]);
            zf += rnnmcu_plain_peep(p, 1u, j, c[j]);
        }
        i = rnnmcu_plain_gate(p->tab_rec, zi);
        f = rnnmcu_plain_gate(p->tab_rec, zf);
        g = rnnmcu_plain_gate(p->tab_act, zg);
        /* c_t = f c + i g, each product shifted by q with rounding, saturated to int16 */
        c_new = rnnmcu_sat16((int64_t)rnnmcu_rshr(f * c[j], q) + rnnmcu_rshr(i * g, q));
        if (p->p)
            zo += rnnmcu_plain_peep(p, 2u, j, c_new);
        o = rnnmcu_plain_gate(p->tab_rec, zo);
        t = rnnmcu_table(p->tab_out, rnnmcu_sat16_32(c_new * ((int32_t)1 << p->cs)));
        rnnmcu_plain_put(scratch, j, rnnmcu_rshr(o * t, q + p->k), bits);
        c[j] = (int16_t)c_new;
    }
}

/* z * a + (2^q - z) * b, shifted right by s with rounding (64-bit: the reference does not need
 * the tiled step's int32 bound) */
static int64_t rnnmcu_plain_blend(int32_t z, int32_t a, int32_t b, int32_t q, int32_t s)
{
    return rnnmcu_rshr64((int64_t)z * a + (int64_t)(((int32_t)1 << q) - z) * b, s);
}

/* GRU, reset_after=1: z, r = rec_act(row), h~ = act(rq(W_h x) + b_h + r (rq(U_h h) + b_rec)),
 * h_t = z h + (1 - z) h~ (with state16, the 16-bit state c blends instead and h is its top bits);
 * a peephole GRU's z sees h~ */
static void rnnmcu_gru_step_plain(const rnnmcu_rnn_q_t *p, const void *x, void *h, int16_t *c, void *scratch,
                                  int bits)
{
    const int32_t q = p->q, k = p->k;
    uint32_t j;
    for (j = 0; j < p->units; j++) {
        const uint32_t row = 3u * j;
        const int32_t r = rnnmcu_plain_gate(p->tab_rec, rnnmcu_plain_pre(p, row + RNNMCU_GRU_GATE_R, x, h, bits));
        const int32_t xh = rnnmcu_sat16_32(rnnmcu_plain_wx(p, row + RNNMCU_GRU_GATE_H, x, bits));
        const int32_t uh = rnnmcu_sat16_32(rnnmcu_plain_uh(p, row + RNNMCU_GRU_GATE_H, h, bits) + p->b_rec[j]);
        const int32_t ht = rnnmcu_table(p->tab_act, rnnmcu_sat16_32(xh + rnnmcu_rshr(r * uh, q)));
        int32_t zz = rnnmcu_plain_pre(p, row + RNNMCU_GRU_GATE_Z, x, h, bits);
        int32_t z;
        if (p->p)
            zz += rnnmcu_plain_peep(p, 0u, j, ht);
        z = rnnmcu_plain_gate(p->tab_rec, zz);
        if (p->state16) {
            c[j] = (int16_t)rnnmcu_sat16(rnnmcu_plain_blend(z, c[j], ht, q, q));
            rnnmcu_plain_put(scratch, j, rnnmcu_rshr(c[j], k), bits);
        } else {
            const int64_t v = rnnmcu_plain_blend(z, rnnmcu_plain_get(h, j, bits) * ((int32_t)1 << k), ht, q, q + k);
            rnnmcu_plain_put(scratch, j, (int32_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v)), bits);
        }
    }
}

/* ---- the step functions: the tiled ones' signatures, so a model can run on either ---- */

void rnnmcu_simple_step_plain_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    (void)c;
    rnnmcu_simple_step_plain(p, x, h, scratch, 8);
    memcpy(h, scratch, p->units);
}

void rnnmcu_simple_step_plain_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c,
                                  int32_t *scratch)
{
    (void)c;
    rnnmcu_simple_step_plain(p, x, h, scratch, 16);
    memcpy(h, scratch, 2u * p->units);
}

void rnnmcu_lstm_step_plain_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_lstm_step_plain(p, x, h, c, scratch, 8);
    memcpy(h, scratch, p->units);
}

void rnnmcu_lstm_step_plain_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_lstm_step_plain(p, x, h, c, scratch, 16);
    memcpy(h, scratch, 2u * p->units);
}

void rnnmcu_gru_step_plain_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_gru_step_plain(p, x, h, c, scratch, 8);
    memcpy(h, scratch, p->units);
}

void rnnmcu_gru_step_plain_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch)
{
    rnnmcu_gru_step_plain(p, x, h, c, scratch, 16);
    memcpy(h, scratch, 2u * p->units);
}
