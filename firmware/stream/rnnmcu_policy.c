/* rnnmcu — the streaming decision policy (see rnnmcu_policy.h and codegen/stream_policy.py). */
#include "rnnmcu_policy.h"

/* floor(v / 2^s) without relying on the implementation-defined shift of negative values */
static int64_t floor_shift64(int64_t v, unsigned s)
{
    if (v >= 0) {
        return v >> s;
    }
    return -(int64_t)((((uint64_t)(-(v + 1))) >> s)) - 1;
}

static int32_t score(const void *y, uint8_t elem_size, uint16_t i)
{
    if (elem_size == 1u) {
        return (int32_t)((const int8_t *)y)[i];
    }
    return (int32_t)((const int16_t *)y)[i];
}

void rnnmcu_policy_init(rnnmcu_policy_t *p, const rnnmcu_policy_config_t *cfg)
{
    uint16_t i;
    for (i = 0; i < cfg->n_classes; i++) {
        p->ema[i] = 0;
    }
    for (i = 0; i < cfg->k; i++) {
        p->votes[i] = 0u;
    }
    for (i = 0; i <= cfg->n_classes; i++) {
        p->counts[i] = 0u;
    }
    p->vpos = 0u;
    p->vfill = 0u;
    p->latched = (int16_t)RNNMCU_POLICY_NONE;
    p->since_event = 0xFFFFFFFFu;
    p->idle_run = 0u;
    p->since_reset = 0u;
}

int rnnmcu_policy_update(rnnmcu_policy_t *p, const rnnmcu_policy_config_t *cfg, const void *y,
                         uint8_t elem_size, rnnmcu_policy_event_t *ev)
{
    const uint16_t n = cfg->n_classes;
    uint16_t i;
    uint16_t cand = 0u;
    int32_t conf;
    int confident;
    int out = 0;

    if (cfg->smooth == RNNMCU_POLICY_SMOOTH_EMA) {
        for (i = 0; i < n; i++) {
            int64_t d = (int64_t)score(y, elem_size, i) * (1 << RNNMCU_POLICY_EMA_FRAC) - p->ema[i];
            p->ema[i] += (int32_t)floor_shift64(d * cfg->alpha_q15, 15u);
            if (p->ema[i] > p->ema[cand]) {
                cand = i;
            }
        }
        conf = (int32_t)floor_shift64(p->ema[cand], RNNMCU_POLICY_EMA_FRAC);
        confident = conf >= cfg->threshold;
    } else if (cfg->smooth == RNNMCU_POLICY_SMOOTH_MAJORITY) {
        uint16_t top = 0u;
        uint8_t vote;
        for (i = 1; i < n; i++) {
            if (score(y, elem_size, i) > score(y, elem_size, top)) {
                top = i;
            }
        }
        vote = (uint8_t)(score(y, elem_size, top) >= cfg->threshold ? top : n);
        if (p->vfill == cfg->k) {
            p->counts[p->votes[p->vpos]]--;
        } else {
            p->vfill++;
        }
        p->votes[p->vpos] = vote;
        p->counts[vote]++;
        p->vpos = (uint16_t)(p->vpos + 1u == cfg->k ? 0u : p->vpos + 1u);
        for (i = 1; i < n; i++) {
            if (p->counts[i] > p->counts[cand]) {
                cand = i;
            }
        }
        conf = (int32_t)p->counts[cand];
        confident = 2 * conf > (int32_t)cfg->k;
    } else {
        for (i = 1; i < n; i++) {
            if (score(y, elem_size, i) > score(y, elem_size, cand)) {
                cand = i;
            }
        }
        conf = score(y, elem_size, cand);
        confident = conf >= cfg->threshold;
    }

    if (p->since_event != 0xFFFFFFFFu) {
        p->since_event++;
    }
    if (confident && (int16_t)cand != cfg->idle_class) {
        p->idle_run = 0u;
        if ((int16_t)cand != p->latched && p->since_event >= cfg->holdoff) {
            ev->cls = (int16_t)cand;
            ev->confidence = conf;
            p->latched = (int16_t)cand;
            p->since_event = 0u;
            out |= RNNMCU_POLICY_EVENT;
        }
    } else {
        p->latched = (int16_t)RNNMCU_POLICY_NONE;
        if (p->idle_run != 0xFFFFFFFFu) {
            p->idle_run++;
        }
    }
    p->since_reset++;
    if ((cfg->reset == RNNMCU_POLICY_RESET_EVERY && p->since_reset >= cfg->reset_n) ||
        (cfg->reset == RNNMCU_POLICY_RESET_IDLE && p->idle_run == cfg->reset_n)) {
        p->since_reset = 0u;
        out |= RNNMCU_POLICY_RESET_MODEL;
    }
    return out;
}
