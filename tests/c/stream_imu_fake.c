/* Host test of firmware/stream/rnnmcu_imu.c against simulated register maps of an MPU-6050 and
 * an ICM-42688-P: WHO_AM_I, reset behaviour (a reset clears the configuration registers),
 * auto-increment burst reads, big-endian data, address 0x68 or 0x69, bus errors.
 * Prints "ok" and exits 0, or names the first failed check. */
#include <stdio.h>
#include <string.h>

#include "rnnmcu_imu.h"

typedef struct {
    uint8_t addr;        /* where the part answers */
    uint8_t who;         /* WHO_AM_I value */
    uint8_t reg[256];
    int writes;
    int fail_reads;      /* make reads fail (bus error) */
    uint32_t delayed_ms;
} fake_t;

static void fake_reset_regs(fake_t *f)
{
    uint8_t keep[14];
    memcpy(keep, f->reg + 0x1F, 12u);           /* ICM data stays (sensor output) */
    memcpy(keep + 12, f->reg + 0x3B, 2u);
    memset(f->reg, 0, 0x1F);
    memset(f->reg + 0x4E, 0, 3u);
    f->reg[0x6B] = 0x40u;                       /* MPU: sleep after reset */
    f->reg[0x75] = f->who;
}

static int fake_read(void *ctx, uint8_t addr, uint8_t reg, uint8_t *buf, size_t n)
{
    fake_t *f = (fake_t *)ctx;
    size_t i;
    if (addr != f->addr || f->fail_reads) {
        return -1; /* NACK */
    }
    for (i = 0; i < n; i++) {
        buf[i] = f->reg[(uint8_t)(reg + i)];
    }
    return 0;
}

static int fake_write(void *ctx, uint8_t addr, uint8_t reg, uint8_t v)
{
    fake_t *f = (fake_t *)ctx;
    if (addr != f->addr) {
        return -1;
    }
    f->writes++;
    if ((f->who == 0x68u && reg == 0x6Bu && (v & 0x80u)) || (f->who == 0x47u && reg == 0x11u && (v & 1u))) {
        fake_reset_regs(f);
        return 0;
    }
    f->reg[reg] = v;
    return 0;
}

static void fake_delay(void *ctx, uint32_t ms) { ((fake_t *)ctx)->delayed_ms += ms; }

#define CHECK(c)                                                  \
    do {                                                          \
        if (!(c)) {                                               \
            printf("FAIL line %d: %s\n", __LINE__, #c);           \
            return 1;                                             \
        }                                                         \
    } while (0)

static void put_be(uint8_t *p, int16_t v)
{
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)((uint16_t)v & 0xFFu);
}

int main(void)
{
    static const int16_t want[6] = {4096, -4096, 123, -32768, 164, 32767};
    int16_t raw[6];
    float u[6];
    rnnmcu_imu_t imu;
    unsigned i;

    /* MPU-6050 at 0x69 (AD0 high): data registers 0x3B.., temperature in between */
    {
        static fake_t f;
        rnnmcu_i2c_t bus = {&f, fake_read, fake_write, fake_delay};
        memset(&f, 0, sizeof f);
        f.addr = 0x69u;
        f.who = 0x68u;
        f.reg[0x75] = 0x68u;
        for (i = 0; i < 3u; i++) {
            put_be(f.reg + 0x3B + 2u * i, want[i]);
            put_be(f.reg + 0x43 + 2u * i, want[3u + i]);
        }
        put_be(f.reg + 0x41, 999); /* temperature: must be skipped */
        CHECK(rnnmcu_imu_probe(&imu, &bus) == RNNMCU_IMU_OK);
        CHECK(imu.kind == RNNMCU_IMU_MPU6050 && imu.addr == 0x69u);
        CHECK(rnnmcu_imu_init(&imu, 50u) == RNNMCU_IMU_OK);
        CHECK(f.reg[0x6B] == 0x01u);              /* awake, PLL clock after the reset */
        CHECK(f.reg[0x19] == 19u);                /* 1 kHz / (1 + 19) = 50 Hz */
        CHECK(f.reg[0x1A] == 4u);                 /* DLPF 20 Hz, below Nyquist of 50 Hz */
        CHECK(f.reg[0x1B] == 0x18u && f.reg[0x1C] == 0x10u); /* +-2000 deg/s, +-8 g */
        CHECK(f.delayed_ms >= 100u);
        CHECK(rnnmcu_imu_read(&imu, raw) == RNNMCU_IMU_OK);
        CHECK(memcmp(raw, want, sizeof want) == 0);
        rnnmcu_imu_to_units(&imu, raw, u);
        CHECK(u[0] > 9.80f && u[0] < 9.81f && u[1] < -9.80f && u[4] > 9.99f && u[4] < 10.01f);
        CHECK(rnnmcu_imu_init(&imu, 2000u) == RNNMCU_IMU_OK && f.reg[0x19] == 0u);
        CHECK(rnnmcu_imu_init(&imu, 3u) == RNNMCU_IMU_ERR_RATE);
        f.fail_reads = 1;
        CHECK(rnnmcu_imu_read(&imu, raw) == RNNMCU_IMU_ERR_BUS);
    }
    /* ICM-42688-P at 0x68: 12 data bytes from 0x1F, ODR and full scale in one register each */
    {
        static fake_t f;
        rnnmcu_i2c_t bus = {&f, fake_read, fake_write, NULL};
        memset(&f, 0, sizeof f);
        f.addr = 0x68u;
        f.who = 0x47u;
        f.reg[0x75] = 0x47u;
        for (i = 0; i < 6u; i++) {
            put_be(f.reg + 0x1F + 2u * i, want[i]);
        }
        f.reg[0x4E] = 0x00u;
        CHECK(rnnmcu_imu_probe(&imu, &bus) == RNNMCU_IMU_OK);
        CHECK(imu.kind == RNNMCU_IMU_ICM42688 && imu.addr == 0x68u);
        CHECK(rnnmcu_imu_init(&imu, 50u) == RNNMCU_IMU_OK);
        CHECK(f.reg[0x4F] == 0x09u);              /* 2000 dps, ODR 50 Hz */
        CHECK(f.reg[0x50] == 0x29u);              /* 8 g, ODR 50 Hz */
        CHECK(f.reg[0x4E] == 0x0Fu);              /* accel + gyro in low-noise mode */
        CHECK(rnnmcu_imu_init(&imu, 120u) == RNNMCU_IMU_OK && f.reg[0x4F] == 0x07u); /* 200 Hz */
        CHECK(rnnmcu_imu_init(&imu, 9000u) == RNNMCU_IMU_ERR_RATE);
        CHECK(rnnmcu_imu_read(&imu, raw) == RNNMCU_IMU_OK);
        CHECK(memcmp(raw, want, sizeof want) == 0);
    }
    /* an unknown part, and an empty bus */
    {
        static fake_t f;
        rnnmcu_i2c_t bus = {&f, fake_read, fake_write, NULL};
        memset(&f, 0, sizeof f);
        f.addr = 0x68u;
        f.who = 0x12u;
        f.reg[0x75] = 0x12u;
        CHECK(rnnmcu_imu_probe(&imu, &bus) == RNNMCU_IMU_ERR_NOT_FOUND);
        f.addr = 0x50u;
        CHECK(rnnmcu_imu_probe(&imu, &bus) == RNNMCU_IMU_ERR_NOT_FOUND);
        CHECK(rnnmcu_imu_read(&imu, raw) == RNNMCU_IMU_ERR_NOT_FOUND);
    }
    printf("ok\n");
    return 0;
}
