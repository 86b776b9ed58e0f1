/* rnnmcu — the tiled recurrent steps (every cell form but GRU reset_after=0), included by
 * rnnmcu_qkernels_impl.h twice (three times for int8 activations):
 *   RNNMCU_PXM 0   rnnmcu_<cell>_step_<sfx>(p, x, h, c, scratch): each step computes its own W x
 *   RNNMCU_PXM 1   rnnmcu_<cell>_step_px_<sfx>(p, px, h, c, scratch): W x comes requantised, with
 *                  the bias added, from rnnmcu_rnn_proj_<sfx> (px: G*units words, this step's; the
 *                  step overwrites them), which computes it for a block of steps of run() at once
 *   RNNMCU_PXM 2   rnnmcu_<cell>_step_x16_<sfx>(p, x, h, c, scratch): as 0 with x int16 (an int8
 *                  model's 16-bit inputs), its product through the int16 kernel
 * Rows are unit-major (rnnmcu_kernels.h, RNNMCU_TILE_UNITS): gate g of unit j is row G*j + g of W,
 * U and rq (g: RNNMCU_<CELL>_GATE_<G> of rnnmcu_facts.h).  A tile of tu units is the rows [G*u0, G*(u0 + tu)): its W x go to ax, its U h to ah
 * (both indexed from the tile's first row), the tile's cell function writes the units' new h to
 * hn (h keeps the old values that the later tiles' U h read) and updates c in place. */

#if RNNMCU_PXM == 1
/* rnnmcu_<name>_px_<sfx> */
#define RNNMCU_TFN(name) RNNMCU_CAT(RNNMCU_CAT2(name, px), RNNMCU_SFX)
/* A gate row's pre-activation: ax holds rq(W x) + b already */
#define RNNMCU_TPRE(r) (ax[r] + rnnmcu_rq32_le(ah[r], rq[r].mh, rq[r].lh, rq[r].eh))
/* the input side of GRU's candidate row: rq(W x) + b */
#define RNNMCU_TPX(r) (ax[r])
#define RNNMCU_STEP_IN int32_t *px /* this step's rq(W x) + b, from rnnmcu_rnn_proj */
#elif RNNMCU_PXM == 2
/* rnnmcu_<name>_x16_<sfx> */
#define RNNMCU_TFN(name) RNNMCU_CAT(RNNMCU_CAT2(name, x16), RNNMCU_SFX)
#define RNNMCU_TPRE(r) RNNMCU_PRE(r)
#define RNNMCU_TPX(r) (rnnmcu_rq32_le(ax[r], rq[r].mx, rq[r].lx, rq[r].ex) + rq[r].b)
#define RNNMCU_STEP_IN const int16_t *x
#else
#define RNNMCU_TFN(name) RNNMCU_FN(name)
#define RNNMCU_TPRE(r) RNNMCU_PRE(r)
#define RNNMCU_TPX(r) (rnnmcu_rq32_le(ax[r], rq[r].mx, rq[r].lx, rq[r].ex) + rq[r].b)
#define RNNMCU_STEP_IN const RNNMCU_ACT_T *x
#endif

/* The activation vectors a tiled step multiplies: x and h themselves, or (Xtensa, int8) both
 * widened once per step into the scratch words after the step's own, for the int16 kernel. */
#if RNNMCU_ACT_BITS == 8 && defined(RNNMCU_S8_VIA_S16)
#define RNNMCU_MVT RNNMCU_MV16
/* the widened x, and the widened h after it */
#define RNNMCU_XV(G) ((const int16_t *)(const void *)(scratch + RNNMCU_RNN_SCRATCH_WORDS((G), p->units, 1u)))
#define RNNMCU_HV(G) (RNNMCU_XV(G) + 2u * ((p->input_dim + 1u) / 2u))
#if RNNMCU_PXM
#define RNNMCU_WIDEN_XH(G) RNNMCU_FN(rnnmcu_widen)(h, p->units, (int16_t *)(void *)RNNMCU_HV(G))
#else
#define RNNMCU_WIDEN_XH(G)                                                                   \
    do {                                                                                     \
        RNNMCU_FN(rnnmcu_widen)(x, p->input_dim, (int16_t *)(void *)RNNMCU_XV(G));           \
        RNNMCU_FN(rnnmcu_widen)(h, p->units, (int16_t *)(void *)RNNMCU_HV(G));               \
    } while (0)
#endif
#define RNNMCU_HN_IN_PLACE 1 /* the products read the widened copy of h: the tiles update h itself */
#else
#define RNNMCU_MVT RNNMCU_FN(rnnmcu_matvec)
#define RNNMCU_XV(G) (x)
#define RNNMCU_HV(G) (h)
#define RNNMCU_WIDEN_XH(G) ((void)0)
#define RNNMCU_HN_IN_PLACE 0
#endif

/* The product W x: the step's own kernel, or (x16 steps) the int16 kernel on x itself */
#if RNNMCU_PXM == 2
#if defined(RNNMCU_WIDE) && RNNMCU_WIDE
#define RNNMCU_MVX rnnmcu_matvec_w16_s16
#else
#define RNNMCU_MVX rnnmcu_matvec_s16
#endif
#define RNNMCU_XVX(G) (x)
#else
#define RNNMCU_MVX RNNMCU_MVT
#define RNNMCU_XVX(G) RNNMCU_XV(G)
#endif

/* The packed rows from row r0 (a multiple of RNNMCU_MV_ROWS) on, of a matrix of cols columns */
#define RNNMCU_ROWS_FROM(w, r0, cols) ((w) + (uint32_t)(r0) * RNNMCU_MV_PAD((cols), RNNMCU_MV_COLS))

/* A tile's cell function takes the W x sums (ax) and the U h sums (ah) as one pointer in the plain
 * step (ah = ax + a whole tile's rows, both in scratch) and as two in the px step (ax in px): six
 * arguments keep the plain call's on AAPCS's stack to two words */
#if RNNMCU_PXM == 1
#define RNNMCU_AH_AT(G) 0u /* scratch: U h, then the new h */
#define RNNMCU_TILE_WX(G, u0_, tu_) ((void)0)
#define RNNMCU_TILE_IN int32_t *ax, int32_t *ah
#define RNNMCU_TILE_PASS(G, u0_) (px + (G) * (u0_)), scratch
#define RNNMCU_TILE_AH(G)
#else
#define RNNMCU_AH_AT(G) ((G) * RNNMCU_TILE_MIN(G, p->units)) /* scratch: W x, U h, then the new h */
#define RNNMCU_TILE_WX(G, u0_, tu_)                                                                  \
    RNNMCU_MVX(RNNMCU_ROWS_FROM(RNNMCU_WP(w), (G) * (u0_), p->input_dim), RNNMCU_XVX(G),             \
               (uint16_t)((G) * (tu_)), p->input_dim, scratch)
#define RNNMCU_TILE_IN int32_t *ax
#define RNNMCU_TILE_PASS(G, u0_) scratch
#define RNNMCU_TILE_AH(G) int32_t *const ah = ax + RNNMCU_AH_AT(G);
#endif

/* A tiled step: G rows per unit; for each tile, both products (W x into scratch, unless it comes
 * in px, and U h after it), then the tile's cell function for its units.  The last tile's cell
 * writes h itself (every U h is done by then), the others' write the new h after the U h sums,
 * copied to h at the end.  A macro, so that every cell's step function is one function with its
 * cell function called directly. */
#define RNNMCU_TILED_STEP(G, cell)                                                                   \
    do {                                                                                             \
        uint32_t u0_;                                                                                \
        RNNMCU_WIDEN_XH(G);                                                                          \
        /* p->units and p->input_dim are read where used, not kept across the calls: fewer values  \
         * live across calls, a smaller frame */                                                    \
        for (u0_ = 0; u0_ < p->units; u0_ += RNNMCU_TILE_UNITS(G)) {                                 \
            const uint32_t tu_ = p->units - u0_ < RNNMCU_TILE_UNITS(G) ? p->units - u0_ : RNNMCU_TILE_UNITS(G); \
            RNNMCU_TILE_WX(G, u0_, tu_);                                                             \
            RNNMCU_MVT(RNNMCU_ROWS_FROM(RNNMCU_WP(u), (G) * u0_, p->units), RNNMCU_HV(G),             \
                       (uint16_t)((G) * tu_), p->units, scratch + RNNMCU_AH_AT(G));                  \
            cell(p, RNNMCU_TILE_PASS(G, u0_), u0_, tu_, h, c);                                      \
        }                                                                                            \
        if (!RNNMCU_HN_IN_PLACE && p->units > RNNMCU_TILE_UNITS(G))                                  \
            memcpy(h, scratch + RNNMCU_AH_AT(G) + (G) * RNNMCU_TILE_UNITS(G),                        \
                   (p->units - 1u) / RNNMCU_TILE_UNITS(G) * RNNMCU_TILE_UNITS(G) * sizeof(RNNMCU_ACT_T)); \
    } while (0)

/* What a tile's cell function starts with: where its units' new h go (hn, indexed by unit: after
 * a whole tile of U h sums, or h itself in the last tile), and the tile's row records */
#define RNNMCU_TILE_LOCALS(G)                                                                        \
    RNNMCU_TILE_AH(G)                                                                                \
    RNNMCU_ACT_T *const hn = (RNNMCU_HN_IN_PLACE || u0 + tu == p->units)                             \
                                 ? h                                                                 \
                                 : (RNNMCU_ACT_T *)(void *)(ah + (G) * RNNMCU_TILE_MIN((G), p->units)); \
    const rnnmcu_row_q_t *const rq = p->rq + (G) * u0

RNNMCU_PHASE void RNNMCU_TFN(rnnmcu_simple_tile)(const rnnmcu_rnn_q_t *p, RNNMCU_TILE_IN,
                                                 uint32_t u0, uint32_t tu, RNNMCU_ACT_T *h, int16_t *c)
{
    RNNMCU_TILE_LOCALS(1u);
    const int32_t k = p->k;
    const int16_t *const tab = p->tab_act;
    uint32_t r;
    (void)c;
    for (r = 0; r < tu; r++)
        hn[u0 + r] = SAT_ACT32(rnnmcu_rshr(RNNMCU_TAB(tab, RNNMCU_TPRE(r), u0 + r, RNNMCU_TR_NONE), k));
}

/* One function per cell, so that the linker keeps only the cells a model uses; rnnmcu_rnn_step
 * dispatches on p->cell for callers that do not know it. */
void RNNMCU_TFN(rnnmcu_simple_step)(const rnnmcu_rnn_q_t *p, RNNMCU_STEP_IN, RNNMCU_ACT_T *h, int16_t *c,
                                    int32_t *scratch)
{
    RNNMCU_TILED_STEP(1u, RNNMCU_TFN(rnnmcu_simple_tile));
}

/* LSTM tile: rows i, f, g, o of each unit through their tables (in place in ax), then c_t and h_t */
RNNMCU_PHASE void RNNMCU_TFN(rnnmcu_lstm_tile)(const rnnmcu_rnn_q_t *p, RNNMCU_TILE_IN,
                                               uint32_t u0, uint32_t tu, RNNMCU_ACT_T *h, int16_t *c)
{
    RNNMCU_TILE_LOCALS(4u);
    const int32_t q = p->q, qk = p->q + p->k, cs = p->cs;
    const int16_t *const tab_out = p->tab_out;
    uint32_t j;
    {
        const int16_t *const tab_rec = p->tab_rec, *const tab_act = p->tab_act;
        uint32_t r;
        /* unrolled by unit: a loop over rows choosing the table per row is 3% slower on Cortex-M4 */
        /* (traced: unit u0 + r / 4; pre-activations by gate, gate values i, f, o, the candidate g) */
        for (r = 0; r < 4u * tu; r += 4u) {
            ax[r + RNNMCU_LSTM_GATE_I] = RNNMCU_TAB(tab_rec, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_I),
                                                    RNNMCU_TR_PRE(p->units, 0u, u0 + r / 4u),
                                                    RNNMCU_TR_GATE(4u, p->units, 0u, u0 + r / 4u));
            ax[r + RNNMCU_LSTM_GATE_F] = RNNMCU_TAB(tab_rec, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_F),
                                                    RNNMCU_TR_PRE(p->units, 1u, u0 + r / 4u),
                                                    RNNMCU_TR_GATE(4u, p->units, 1u, u0 + r / 4u));
            ax[r + RNNMCU_LSTM_GATE_C] = RNNMCU_TAB(tab_act, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_C),
                                                    RNNMCU_TR_PRE(p->units, 2u, u0 + r / 4u),
                                                    RNNMCU_TR_CAND(4u, 3u, p->units, u0 + r / 4u));
            ax[r + RNNMCU_LSTM_GATE_O] = RNNMCU_TAB(tab_rec, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_O),
                                                    RNNMCU_TR_PRE(p->units, 3u, u0 + r / 4u),
                                                    RNNMCU_TR_GATE(4u, p->units, 2u, u0 + r / 4u));
        }
    }
    c += u0;
    for (j = 0; j < tu; j++, ax += 4) {
        const int32_t c_new = RNNMCU_LSTM_C(ax[RNNMCU_LSTM_GATE_I], ax[RNNMCU_LSTM_GATE_F], ax[RNNMCU_LSTM_GATE_C],
                                            (int32_t)c[j]);
        hn[u0 + j] = SAT_ACT32(rnnmcu_rshr(ax[RNNMCU_LSTM_GATE_O] * rnnmcu_table(tab_out, rnnmcu_sat16_32(c_new * ((int32_t)1 << cs))), qk));
        c[j] = (int16_t)c_new;
        RNNMCU_TRACE_PUT(RNNMCU_TR_C(4u, 3u, p->units, u0 + j), c_new);
    }
}

void RNNMCU_TFN(rnnmcu_lstm_step)(const rnnmcu_rnn_q_t *p, RNNMCU_STEP_IN, RNNMCU_ACT_T *h, int16_t *c,
                                  int32_t *scratch)
{
    RNNMCU_TILED_STEP(4u, RNNMCU_TFN(rnnmcu_lstm_tile));
}

/* Peephole LSTM tile: i and f see c_{t-1}, g has none (gate values in place in ax); then c_t, row
 * o, whose peephole sees c_t, and h_t.  The peepholes are stored gate-major: p[g*n + unit]. */
RNNMCU_PHASE void RNNMCU_TFN(rnnmcu_lstm_peep_tile)(const rnnmcu_rnn_q_t *p, RNNMCU_TILE_IN,
                                                    uint32_t u0, uint32_t tu, RNNMCU_ACT_T *h, int16_t *c)
{
    RNNMCU_TILE_LOCALS(4u);
    const uint32_t n = p->units;
    const int16_t *const pp = p->p + u0;
    const int16_t *const tab_rec = p->tab_rec;
    uint32_t j;
    c += u0;
    for (j = 0; j < tu; j++) {
        const uint32_t r = 4u * j;
        const int32_t cj = c[j];
        ax[r + RNNMCU_LSTM_GATE_I] = RNNMCU_TAB(tab_rec, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_I) + RNNMCU_PEEP(pp[j] * cj, 0),
                                                RNNMCU_TR_PRE(n, 0u, u0 + j), RNNMCU_TR_GATE(4u, n, 0u, u0 + j));
        ax[r + RNNMCU_LSTM_GATE_F] = RNNMCU_TAB(tab_rec, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_F) + RNNMCU_PEEP(pp[n + j] * cj, 1),
                                                RNNMCU_TR_PRE(n, 1u, u0 + j), RNNMCU_TR_GATE(4u, n, 1u, u0 + j));
        ax[r + RNNMCU_LSTM_GATE_C] = RNNMCU_TAB(p->tab_act, RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_C),
                                                RNNMCU_TR_PRE(n, 2u, u0 + j), RNNMCU_TR_CAND(4u, 3u, n, u0 + j));
    }
    {
        const int32_t q = p->q, qk = p->q + p->k, cs = p->cs;
        const int16_t *const tab_out = p->tab_out;
        for (j = 0; j < tu; j++) {
            const uint32_t r = 4u * j;
            const int32_t c_new = RNNMCU_LSTM_C(ax[r + RNNMCU_LSTM_GATE_I], ax[r + RNNMCU_LSTM_GATE_F],
                                                ax[r + RNNMCU_LSTM_GATE_C], (int32_t)c[j]);
            const int32_t zo = RNNMCU_TPRE(r + RNNMCU_LSTM_GATE_O) + RNNMCU_PEEP(pp[2u * n + j] * c_new, 2);
            const int32_t o_ = RNNMCU_TAB(tab_rec, zo, RNNMCU_TR_PRE(n, 3u, u0 + j), RNNMCU_TR_GATE(4u, n, 2u, u0 + j));
            hn[u0 + j] = SAT_ACT32(rnnmcu_rshr(o_ * rnnmcu_table(tab_out, rnnmcu_sat16_32(c_new * ((int32_t)1 << cs))), qk));
            c[j] = (int16_t)c_new;
            RNNMCU_TRACE_PUT(RNNMCU_TR_C(4u, 3u, n, u0 + j), c_new);
        }
    }
}

/* A function of its own, so that a plain LSTM does not link the peephole code */
void RNNMCU_TFN(rnnmcu_peephole_lstm_step)(const rnnmcu_rnn_q_t *p, RNNMCU_STEP_IN, RNNMCU_ACT_T *h,
                                           int16_t *c, int32_t *scratch)
{
    RNNMCU_TILED_STEP(4u, RNNMCU_TFN(rnnmcu_lstm_peep_tile));
}

/* The GRU tile's units, from their candidate pre-activations (ax) on: h~, z (whose peephole, in a
 * peephole GRU, sees the new candidate) and the blend.  Inlined twice, with state16 a constant. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void RNNMCU_TFN(rnnmcu_gru_units)(const rnnmcu_rnn_q_t *p, int32_t *ax, const int32_t *ah,
                                                const rnnmcu_row_q_t *rq, uint32_t u0, uint32_t tu,
                                                const RNNMCU_ACT_T *h, RNNMCU_ACT_T *hn, int16_t *c,
                                                const int state16)
{
    const int32_t q = p->q, k = p->k;
    const int16_t *const pp = p->p ? p->p + u0 : 0;
    const int16_t *const tab_rec = p->tab_rec, *const tab_act = p->tab_act;
    const int unit_gate = p->unit_gate;
    uint32_t j;
    (void)ah;
    for (j = 0; j < tu; j++) {
        const uint32_t r = 3u * j;
        const int32_t ht = rnnmcu_table(tab_act, ax[r + RNNMCU_GRU_GATE_H]);
        int32_t zz = RNNMCU_TPRE(r + RNNMCU_GRU_GATE_Z);
        RNNMCU_TRACE_PUT(RNNMCU_TR_CAND(3u, 2u, p->units, u0 + j), ht);
        if (pp) /* peephole GRU: z sees the new candidate */
            zz += RNNMCU_PEEP(pp[j] * ht, 0);
        {
            const int32_t z = RNNMCU_TAB(tab_rec, zz, RNNMCU_TR_PRE(p->units, 0u, u0 + j),
                                         RNNMCU_TR_GATE(3u, p->units, 0u, u0 + j));
            RNNMCU_GRU_H(hn[u0 + j], h[u0 + j], c + u0 + j, z, ht);
            if (state16)
                RNNMCU_TRACE_PUT(RNNMCU_TR_C(3u, 2u, p->units, u0 + j), c[u0 + j]);
        }
    }
}

/* GRU reset_after=1 tile (rows z, r, candidate of each unit): r, then the candidate
 * px + r * (U_c h + b_rec), saturated (in place of the candidate's W x); then z (whose peephole, in
 * a peephole GRU, sees the new candidate) and the blend */
RNNMCU_PHASE void RNNMCU_TFN(rnnmcu_gru_tile)(const rnnmcu_rnn_q_t *p, RNNMCU_TILE_IN,
                                              uint32_t u0, uint32_t tu, RNNMCU_ACT_T *h, int16_t *c)
{
    RNNMCU_TILE_LOCALS(3u);
    const int32_t q = p->q;
    uint32_t j;
    {
        const int32_t *const b_rec = p->b_rec + u0; /* the candidate rows' own */
        const int16_t *const tab_rec = p->tab_rec;
        for (j = 0; j < tu; j++) {
            const uint32_t r = 3u * j + RNNMCU_GRU_GATE_R, rc = 3u * j + RNNMCU_GRU_GATE_H;
            const int32_t r_ = RNNMCU_TAB(tab_rec, RNNMCU_TPRE(r), RNNMCU_TR_PRE(p->units, 1u, u0 + j),
                                          RNNMCU_TR_GATE(3u, p->units, 1u, u0 + j));
            const int32_t px_ = rnnmcu_sat16_32(RNNMCU_TPX(rc));
            const int32_t ph = rnnmcu_sat16_32(rnnmcu_rq32_le(ah[rc], rq[rc].mh, rq[rc].lh, rq[rc].eh) + b_rec[j]);
            ax[rc] = rnnmcu_sat16_32(px_ + rnnmcu_rshr(r_ * ph, q));
            RNNMCU_TRACE_PUT(RNNMCU_TR_PRE(p->units, 2u, u0 + j), ax[rc]);
        }
    }
    /* the blend, with the 16-bit state's test outside the loop (each branch a loop of its own) */
    if (p->state16)
        RNNMCU_TFN(rnnmcu_gru_units)(p, ax, ah, rq, u0, tu, h, hn, c, 1);
    else
        RNNMCU_TFN(rnnmcu_gru_units)(p, ax, ah, rq, u0, tu, h, hn, c, 0);
}

/* GRU: reset_after=1 (Keras' default): r scales U_c h + b_rec */
void RNNMCU_TFN(rnnmcu_gru_step)(const rnnmcu_rnn_q_t *p, RNNMCU_STEP_IN, RNNMCU_ACT_T *h, int16_t *c,
                                 int32_t *scratch)
{
    RNNMCU_TILED_STEP(3u, RNNMCU_TFN(rnnmcu_gru_tile));
}

#undef RNNMCU_TILED_STEP
#undef RNNMCU_TILE_LOCALS
#undef RNNMCU_TILE_WX
#undef RNNMCU_TILE_IN
#undef RNNMCU_TILE_PASS
#undef RNNMCU_TILE_AH
#undef RNNMCU_AH_AT
#undef RNNMCU_ROWS_FROM
#undef RNNMCU_WIDEN_XH
#undef RNNMCU_XV
#undef RNNMCU_HV
#undef RNNMCU_MVT
#undef RNNMCU_MVX
#undef RNNMCU_XVX
#undef RNNMCU_HN_IN_PLACE
#undef RNNMCU_TFN
#undef RNNMCU_TPRE
#undef RNNMCU_TPX
#undef RNNMCU_STEP_IN
