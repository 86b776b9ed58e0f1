/* rnnmcu — MPU-6050 and ICM-42688-P drivers (see rnnmcu_imu.h).  Register numbers from the
 * parts' datasheets (MPU-6000/6050 register map rev 4.2; ICM-42688-P DS rev 1.x, bank 0). */
#include "rnnmcu_imu.h"

#define WHO_AM_I 0x75u

/* MPU-6050 */
#define MPU_ID 0x68u
#define MPU_SMPLRT_DIV 0x19u
#define MPU_CONFIG 0x1Au
#define MPU_GYRO_CONFIG 0x1Bu
#define MPU_ACCEL_CONFIG 0x1Cu
#define MPU_ACCEL_XOUT_H 0x3Bu /* 14 bytes: accel, temperature, gyro, big-endian */
#define MPU_PWR_MGMT_1 0x6Bu

/* ICM-42688-P, bank 0 */
#define ICM_ID 0x47u
#define ICM_DEVICE_CONFIG 0x11u
#define ICM_ACCEL_DATA_X1 0x1Fu /* 12 bytes: accel, gyro, big-endian */
#define ICM_PWR_MGMT0 0x4Eu
#define ICM_GYRO_CONFIG0 0x4Fu
#define ICM_ACCEL_CONFIG0 0x50u
#define ICM_REG_BANK_SEL 0x76u

static rnnmcu_imu_status_t wr(const rnnmcu_imu_t *imu, uint8_t reg, uint8_t v)
{
    return imu->bus->write(imu->bus->ctx, imu->addr, reg, v) == 0 ? RNNMCU_IMU_OK : RNNMCU_IMU_ERR_BUS;
}

static void delay(const rnnmcu_imu_t *imu, uint32_t ms)
{
    if (imu->bus->delay_ms != NULL) {
        imu->bus->delay_ms(imu->bus->ctx, ms);
    }
}

rnnmcu_imu_status_t rnnmcu_imu_probe(rnnmcu_imu_t *imu, const rnnmcu_i2c_t *bus)
{
    static const uint8_t addrs[2] = {0x68u, 0x69u};
    unsigned i;
    int bus_ok = 0;
    imu->bus = bus;
    imu->kind = (uint8_t)RNNMCU_IMU_NONE;
    for (i = 0; i < 2u; i++) {
        uint8_t id = 0u;
        if (bus->read(bus->ctx, addrs[i], WHO_AM_I, &id, 1u) != 0) {
            continue; /* nobody acknowledges this address */
        }
        bus_ok = 1;
        imu->addr = addrs[i];
        if (id == MPU_ID) {
            imu->kind = (uint8_t)RNNMCU_IMU_MPU6050;
            return RNNMCU_IMU_OK;
        }
        if (id == ICM_ID) {
            imu->kind = (uint8_t)RNNMCU_IMU_ICM42688;
            return RNNMCU_IMU_OK;
        }
    }
    (void)bus_ok;
    return RNNMCU_IMU_ERR_NOT_FOUND;
}

/* ICM-42688 ODR code for the smallest data rate >= rate_hz (0 if none) */
static uint8_t icm_odr(uint32_t rate_hz)
{
    static const struct {
        uint32_t hz;
        uint8_t code;
    } odr[] = {{25u, 0x0Au}, {50u, 0x09u}, {100u, 0x08u}, {200u, 0x07u}, {500u, 0x0Fu},
               {1000u, 0x06u}, {2000u, 0x05u}, {4000u, 0x04u}, {8000u, 0x03u}};
    unsigned i;
    for (i = 0; i < sizeof odr / sizeof odr[0]; i++) {
        if (odr[i].hz >= rate_hz) {
            return odr[i].code;
        }
    }
    return 0u;
}

rnnmcu_imu_status_t rnnmcu_imu_init(rnnmcu_imu_t *imu, uint32_t rate_hz)
{
    rnnmcu_imu_status_t s = RNNMCU_IMU_OK;
    imu->accel_lsb_per_g = 4096u;
    imu->gyro_lsb_per_dps_x10 = 164u;
    if (rate_hz == 0u) {
        return RNNMCU_IMU_ERR_RATE;
    }
    if (imu->kind == (uint8_t)RNNMCU_IMU_MPU6050) {
        /* internal rate 1 kHz with the DLPF on; divider 1000 / (1 + div) >= rate */
        uint32_t div = rate_hz >= 1000u ? 0u : 1000u / rate_hz - 1u;
        uint8_t dlpf = rate_hz >= 400u ? 1u : rate_hz >= 200u ? 2u : rate_hz >= 100u ? 3u : rate_hz >= 40u ? 4u : 5u;
        if (div > 255u) {
            return RNNMCU_IMU_ERR_RATE;
        }
        if ((s = wr(imu, MPU_PWR_MGMT_1, 0x80u)) != RNNMCU_IMU_OK) { /* device reset */
            return s;
        }
        delay(imu, 100u);
        if ((s = wr(imu, MPU_PWR_MGMT_1, 0x01u)) != RNNMCU_IMU_OK) { /* wake, PLL on gyro X */
            return s;
        }
        if ((s = wr(imu, MPU_CONFIG, dlpf)) != RNNMCU_IMU_OK ||
            (s = wr(imu, MPU_SMPLRT_DIV, (uint8_t)div)) != RNNMCU_IMU_OK ||
            (s = wr(imu, MPU_GYRO_CONFIG, 3u << 3)) != RNNMCU_IMU_OK ||   /* +-2000 deg/s */
            (s = wr(imu, MPU_ACCEL_CONFIG, 2u << 3)) != RNNMCU_IMU_OK) {  /* +-8 g */
            return s;
        }
        return RNNMCU_IMU_OK;
    }
    if (imu->kind == (uint8_t)RNNMCU_IMU_ICM42688) {
        uint8_t odr = icm_odr(rate_hz);
        if (odr == 0u) {
            return RNNMCU_IMU_ERR_RATE;
        }
        if ((s = wr(imu, ICM_REG_BANK_SEL, 0u)) != RNNMCU_IMU_OK ||
            (s = wr(imu, ICM_DEVICE_CONFIG, 0x01u)) != RNNMCU_IMU_OK) { /* soft reset */
            return s;
        }
        delay(imu, 2u);
        if ((s = wr(imu, ICM_GYRO_CONFIG0, (uint8_t)((0u << 5) | odr))) != RNNMCU_IMU_OK ||  /* 2000 dps */
            (s = wr(imu, ICM_ACCEL_CONFIG0, (uint8_t)((1u << 5) | odr))) != RNNMCU_IMU_OK || /* 8 g */
            (s = wr(imu, ICM_PWR_MGMT0, 0x0Fu)) != RNNMCU_IMU_OK) { /* gyro + accel low-noise */
            return s;
        }
        delay(imu, 1u); /* no register writes for 200 us after PWR_MGMT0 */
        return RNNMCU_IMU_OK;
    }
    return RNNMCU_IMU_ERR_NOT_FOUND;
}

static int16_t be16(const uint8_t *p) { return (int16_t)(uint16_t)(((uint16_t)p[0] << 8) | p[1]); }

rnnmcu_imu_status_t rnnmcu_imu_read(const rnnmcu_imu_t *imu, int16_t raw[6])
{
    uint8_t b[14];
    unsigned i;
    if (imu->kind == (uint8_t)RNNMCU_IMU_MPU6050) {
        if (imu->bus->read(imu->bus->ctx, imu->addr, MPU_ACCEL_XOUT_H, b, 14u) != 0) {
            return RNNMCU_IMU_ERR_BUS;
        }
        for (i = 0; i < 3u; i++) {
            raw[i] = be16(b + 2u * i);
            raw[3u + i] = be16(b + 8u + 2u * i); /* skip the temperature */
        }
        return RNNMCU_IMU_OK;
    }
    if (imu->kind == (uint8_t)RNNMCU_IMU_ICM42688) {
        if (imu->bus->read(imu->bus->ctx, imu->addr, ICM_ACCEL_DATA_X1, b, 12u) != 0) {
            return RNNMCU_IMU_ERR_BUS;
        }
        for (i = 0; i < 6u; i++) {
            raw[i] = be16(b + 2u * i);
        }
        return RNNMCU_IMU_OK;
    }
    return RNNMCU_IMU_ERR_NOT_FOUND;
}

void rnnmcu_imu_to_units(const rnnmcu_imu_t *imu, const int16_t raw[6], float out[6])
{
    const float g = 9.80665f;
    unsigned i;
    for (i = 0; i < 3u; i++) {
        out[i] = (float)raw[i] * g / (float)imu->accel_lsb_per_g;
        out[3u + i] = (float)raw[3u + i] * 10.0f / (float)imu->gyro_lsb_per_dps_x10;
    }
}
