/* rnnmcu — Xtensa: int8 products through the int16 kernel.  Xtensa has no one-instruction signed
 * byte load (LX106 takes three, a load and two shifts), so the int8 steps and dense layers widen
 * each activation vector to int16 once (a recurrent step: x and h, one after the other, right
 * after the step's own scratch words; a dense layer: its input, after its sums) and run the int16
 * kernel, one L16SI per value.  Included by rnnmcu_kernels.h on __XTENSA__ when this folder is
 * part of the build. */
#ifndef RNNMCU_S8_VIA_S16_H
#define RNNMCU_S8_VIA_S16_H

#define RNNMCU_S8_VIA_S16 1
/* the int32 words an int16 copy of `cols` int8 values takes */
#define RNNMCU_XBUF_WORDS(cols) (((cols) + 1) / 2)

#endif
