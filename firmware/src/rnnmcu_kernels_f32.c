/* rnnmcu — float kernels: the same structure as the integer ones, in single precision.
 * The oracle for this path is Keras (through codegen/float_ref.py). */
#include <math.h>

#include "rnnmcu_kernels.h"

float rnnmcu_act_f32(int act, float x)
{
    switch (act) {
    case RNNMCU_ACT_LINEAR: return x;
    case RNNMCU_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case RNNMCU_ACT_RELU6: return x > 6.0f ? 6.0f : (x > 0.0f ? x : 0.0f);
    case RNNMCU_ACT_LEAKY_RELU: return x >= 0.0f ? x : 0.2f * x;
    case RNNMCU_ACT_ELU: return x > 0.0f ? x : expm1f(x);
    case RNNMCU_ACT_SELU:
        return 1.05070098735548049342f * (x > 0.0f ? x : 1.67326324235437728481f * expm1f(x));
    case RNNMCU_ACT_CELU: return x > 0.0f ? x : expm1f(x);
    case RNNMCU_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
    case RNNMCU_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case RNNMCU_ACT_HARD_SIGMOID: {
        const float v = x + 3.0f;
        return (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)) / 6.0f;
    }
    case RNNMCU_ACT_HARD_SILU: {
        const float v = x + 3.0f;
        return x * (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)) / 6.0f;
    }
    case RNNMCU_ACT_SILU: return x / (1.0f + expf(-x));
    case RNNMCU_ACT_SOFTPLUS: return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
    case RNNMCU_ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
    case RNNMCU_ACT_TANH: return tanhf(x);
    case RNNMCU_ACT_EXPONENTIAL: return expf(x);
    case RNNMCU_ACT_MISH: return x * tanhf((x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x))));
    case RNNMCU_ACT_LOG_SIGMOID: return -((-x > 0.0f ? -x : 0.0f) + log1pf(expf(-fabsf(x))));
    case RNNMCU_ACT_TANH_SHRINK: return x - tanhf(x);
    case RNNMCU_ACT_HARD_TANH: return x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x);
    case RNNMCU_ACT_SOFT_SHRINK: return x > 0.5f ? x - 0.5f : (x < -0.5f ? x + 0.5f : 0.0f);
    case RNNMCU_ACT_HARD_SHRINK: return (x > 0.5f || x < -0.5f) ? x : 0.0f;
    case RNNMCU_ACT_SPARSE_PLUS:
        return x <= -1.0f ? 0.0f : (x >= 1.0f ? x : 0.25f * (x + 1.0f) * (x + 1.0f));
    case RNNMCU_ACT_SQUAREPLUS: return 0.5f * (x + sqrtf(x * x + 4.0f));
    case RNNMCU_ACT_SPARSE_SIGMOID: return x <= -1.0f ? 0.0f : (x >= 1.0f ? 1.0f : 0.5f * (x + 1.0f));
    default: return x;
    }
}

static float rnnmcu_dot_f32(const float *w, const float *x, uint16_t n)
{
    float acc = 0.0f;
    uint16_t i;
    for (i = 0; i < n; i++)
        acc += w[i] * x[i];
    return acc;
}

void rnnmcu_rnn_step_f32(const rnnmcu_rnn_f32_t *p, const float *x, float *h, float *c, float *scratch)
{
    const uint16_t n = p->units, in = p->input_dim;
    const uint32_t G = RNNMCU_CELL_GATES(p->cell);
    float *xw = scratch;            /* G*n: W x + b */
    float *hu = scratch + G * n;    /* G*n: U h (+ b_rec) */
    float *rh = scratch + 2 * G * n; /* n */
    uint32_t r;
    uint16_t j;
    for (r = 0; r < G * n; r++) {
        xw[r] = rnnmcu_dot_f32(p->w + r * in, x, in) + p->b[r];
        hu[r] = rnnmcu_dot_f32(p->u + r * n, h, n) + p->b_rec[r];
    }
    if (p->cell == RNNMCU_CELL_SIMPLE) {
        for (j = 0; j < n; j++)
            h[j] = rnnmcu_act_f32(p->act, xw[j] + hu[j]);
    } else if (p->cell == RNNMCU_CELL_LSTM) {
        /* gate-major rows: gate g of unit j is row g*n + j (the gate order: rnnmcu_facts.h) */
        const uint32_t gi = RNNMCU_LSTM_GATE_I * n, gf = RNNMCU_LSTM_GATE_F * n;
        const uint32_t gc = RNNMCU_LSTM_GATE_C * n, go = RNNMCU_LSTM_GATE_O * n;
        for (j = 0; j < n; j++) {
            const float pi = p->p ? p->p[j] * c[j] : 0.0f, pf = p->p ? p->p[n + j] * c[j] : 0.0f;
            const float i_ = rnnmcu_act_f32(p->rec_act, xw[gi + j] + hu[gi + j] + pi);
            const float f_ = rnnmcu_act_f32(p->rec_act, xw[gf + j] + hu[gf + j] + pf);
            const float g_ = rnnmcu_act_f32(p->act, xw[gc + j] + hu[gc + j]);
            float o_;
            c[j] = f_ * c[j] + i_ * g_;
            o_ = rnnmcu_act_f32(p->rec_act, xw[go + j] + hu[go + j] + (p->p ? p->p[2 * n + j] * c[j] : 0.0f));
            h[j] = o_ * rnnmcu_act_f32(p->act, c[j]);
        }
    } else if (p->reset_after) {
        const uint32_t gz = RNNMCU_GRU_GATE_Z * n, gr = RNNMCU_GRU_GATE_R * n, gh = RNNMCU_GRU_GATE_H * n;
        for (j = 0; j < n; j++) {
            const float r_ = rnnmcu_act_f32(p->rec_act, xw[gr + j] + hu[gr + j]);
            const float hh = rnnmcu_act_f32(p->act, xw[gh + j] + r_ * hu[gh + j]);
            const float z = rnnmcu_act_f32(p->rec_act, xw[gz + j] + hu[gz + j] + (p->p ? p->p[j] * hh : 0.0f));
            rh[j] = z * h[j] + (1.0f - z) * hh;
        }
        for (j = 0; j < n; j++)
            h[j] = rh[j];
    } else {
        const uint32_t gz = RNNMCU_GRU_GATE_Z * n, gr = RNNMCU_GRU_GATE_R * n, gh = RNNMCU_GRU_GATE_H * n;
        for (j = 0; j < n; j++) {
            const float r_ = rnnmcu_act_f32(p->rec_act, xw[gr + j] + hu[gr + j]);
            rh[j] = r_ * h[j];
        }
        for (j = 0; j < n; j++) {
            const float pre = xw[gh + j] + rnnmcu_dot_f32(p->u + (gh + j) * n, rh, n);
            xw[gh + j] = rnnmcu_act_f32(p->act, pre);
        }
        for (j = 0; j < n; j++) {
            const float hh = xw[gh + j];
            const float z = rnnmcu_act_f32(p->rec_act, xw[gz + j] + hu[gz + j] + (p->p ? p->p[j] * hh : 0.0f));
            h[j] = z * h[j] + (1.0f - z) * hh;
        }
    }
}

void rnnmcu_dense_f32(const rnnmcu_dense_f32_t *p, const float *x, float *y)
{
    uint16_t r;
    for (r = 0; r < p->output_dim; r++)
        y[r] = rnnmcu_act_f32(p->act, rnnmcu_dot_f32(p->w + (uint32_t)r * p->input_dim, x, p->input_dim) + p->b[r]);
}

void rnnmcu_activation_f32(int act, uint16_t dim, const float *x, float *y)
{
    uint16_t i;
    for (i = 0; i < dim; i++)
        y[i] = rnnmcu_act_f32(act, x[i]);
}

void rnnmcu_softmax_f32(uint16_t dim, const float *x, float *y)
{
    float m = x[0], s = 0.0f;
    uint16_t i;
    for (i = 1; i < dim; i++)
        if (x[i] > m)
            m = x[i];
    for (i = 0; i < dim; i++) {
        y[i] = expf(x[i] - m);
        s += y[i];
    }
    for (i = 0; i < dim; i++)
        y[i] /= s;
}

void rnnmcu_merge_f32(int mode, uint16_t units, const float *a, const float *b, float *y)
{
    uint16_t j;
    for (j = 0; j < units; j++)
        y[j] = mode == RNNMCU_MERGE_MUL ? a[j] * b[j]
             : mode == RNNMCU_MERGE_AVE ? (a[j] + b[j]) / 2.0f : a[j] + b[j];
}
