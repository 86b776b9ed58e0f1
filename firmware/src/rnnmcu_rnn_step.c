/* rnnmcu — one recurrent step of any cell: dispatches on p->cell (and the peepholes and GRU form)
 * for callers that do not know the cell.  Generated code calls the cell's own function instead
 * (rnnmcu_<cell>_step.c), so that the linker keeps only the cells a model uses. */
#include "rnnmcu_kernels.h"

void rnnmcu_rnn_step_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    if (p->cell == RNNMCU_CELL_SIMPLE)
        rnnmcu_simple_step_s8(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM && p->p)
        rnnmcu_peephole_lstm_step_s8(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM)
        rnnmcu_lstm_step_s8(p, x, h, c, scratch);
    else if (p->reset_after)
        rnnmcu_gru_step_s8(p, x, h, c, scratch);
    else
        rnnmcu_gru_reset_before_step_s8(p, x, h, c, scratch);
}

void rnnmcu_rnn_step_w16_s8(const rnnmcu_rnn_q_t *p, const int8_t *x, int8_t *h, int16_t *c, int32_t *scratch)
{
    if (p->cell == RNNMCU_CELL_SIMPLE)
        rnnmcu_simple_step_w16_s8(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM && p->p)
        rnnmcu_peephole_lstm_step_w16_s8(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM)
        rnnmcu_lstm_step_w16_s8(p, x, h, c, scratch);
    else if (p->reset_after)
        rnnmcu_gru_step_w16_s8(p, x, h, c, scratch);
    else
        rnnmcu_gru_reset_before_step_w16_s8(p, x, h, c, scratch);
}

void rnnmcu_rnn_step_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch)
{
    if (p->cell == RNNMCU_CELL_SIMPLE)
        rnnmcu_simple_step_s16(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM && p->p)
        rnnmcu_peephole_lstm_step_s16(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM)
        rnnmcu_lstm_step_s16(p, x, h, c, scratch);
    else if (p->reset_after)
        rnnmcu_gru_step_s16(p, x, h, c, scratch);
    else
        rnnmcu_gru_reset_before_step_s16(p, x, h, c, scratch);
}

void rnnmcu_rnn_step_w16_s16(const rnnmcu_rnn_q_t *p, const int16_t *x, int16_t *h, int16_t *c, int32_t *scratch)
{
    if (p->cell == RNNMCU_CELL_SIMPLE)
        rnnmcu_simple_step_w16_s16(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM && p->p)
        rnnmcu_peephole_lstm_step_w16_s16(p, x, h, c, scratch);
    else if (p->cell == RNNMCU_CELL_LSTM)
        rnnmcu_lstm_step_w16_s16(p, x, h, c, scratch);
    else if (p->reset_after)
        rnnmcu_gru_step_w16_s16(p, x, h, c, scratch);
    else
        rnnmcu_gru_reset_before_step_w16_s16(p, x, h, c, scratch);
}
