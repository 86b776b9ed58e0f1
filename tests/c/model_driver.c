/* Test driver: runs a generated model (through its rnnmcu_app_model descriptor) on sequences
 * read from stdin and writes the outputs to stdout, both as raw little-endian values.
 *   in:  u32 count, then per sequence: u32 T, T*input_dim values (in_elem_size bytes each)
 *   out: per sequence: T*output_dim values from step() (absent for window-only models), then
 *        the output of run(): output_dim values, or T*output_dim for sequence models.
 * Lets tests check the C against the integer reference without the serial protocol. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rnnmcu_model_iface.h"

static int read_exact(void *p, size_t n)
{
    return fread(p, 1, n, stdin) == n;
}

int main(void)
{
    const rnnmcu_model_desc_t *m = &rnnmcu_app_model;
    const size_t es = m->elem_size, ies = m->in_elem_size;
    uint32_t count, i, T, t;
    static unsigned char xbuf[1 << 22], ybuf[1 << 22];
    if (!read_exact(&count, 4))
        return 2;
    for (i = 0; i < count; i++) {
        if (!read_exact(&T, 4) || (size_t)T * m->input_dim * ies > sizeof xbuf ||
            (size_t)T * m->output_dim * es > sizeof ybuf)
            return 2;
        if (!read_exact(xbuf, (size_t)T * m->input_dim * ies))
            return 2;
        if (m->step) {
            m->reset(m->state);
            for (t = 0; t < T; t++)
                if (m->step(m->state, xbuf + (size_t)t * m->input_dim * ies, ybuf + (size_t)t * m->output_dim * es))
                    return 3;
            fwrite(ybuf, es, (size_t)T * m->output_dim, stdout);
        }
        if (m->run(m->state, xbuf, (uint16_t)T, ybuf))
            return 4;
        fwrite(ybuf, es, (m->flags & RNNMCU_MODEL_OUTPUT_SEQUENCE) ? (size_t)T * m->output_dim : m->output_dim, stdout);
    }
    fflush(stdout);
    return 0;
}
