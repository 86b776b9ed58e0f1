/* rnnmcu — I2C IMU drivers in portable C: MPU-6050 and ICM-42688-P (accelerometer + gyroscope),
 * over a tiny I2C port (register read/write callbacks) that the board entry implements with the
 * framework's own I2C driver.  Tested on the host against a simulated register map. */
#ifndef RNNMCU_IMU_H
#define RNNMCU_IMU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    void *ctx;
    /* read n registers from reg upwards; 0 on success */
    int (*read)(void *ctx, uint8_t addr, uint8_t reg, uint8_t *buf, size_t n);
    /* write one register; 0 on success */
    int (*write)(void *ctx, uint8_t addr, uint8_t reg, uint8_t value);
    void (*delay_ms)(void *ctx, uint32_t ms);
} rnnmcu_i2c_t;

typedef enum {
    RNNMCU_IMU_NONE = 0,
    RNNMCU_IMU_MPU6050 = 1,
    RNNMCU_IMU_ICM42688 = 2
} rnnmcu_imu_kind_t;

typedef enum {
    RNNMCU_IMU_OK = 0,
    RNNMCU_IMU_ERR_BUS = 1,       /* an I2C transfer failed */
    RNNMCU_IMU_ERR_NOT_FOUND = 2, /* no known WHO_AM_I at 0x68 or 0x69 */
    RNNMCU_IMU_ERR_RATE = 3       /* the sample rate cannot be configured */
} rnnmcu_imu_status_t;

typedef struct {
    const rnnmcu_i2c_t *bus;
    uint8_t kind;                 /* rnnmcu_imu_kind_t */
    uint8_t addr;
    uint16_t accel_lsb_per_g;     /* 4096: +-8 g */
    uint16_t gyro_lsb_per_dps_x10; /* 164: +-2000 deg/s (16.4 LSB per deg/s) */
} rnnmcu_imu_t;

/* Find a supported IMU at 0x68 or 0x69 (WHO_AM_I 0x75: 0x68 MPU-6050, 0x47 ICM-42688-P). */
rnnmcu_imu_status_t rnnmcu_imu_probe(rnnmcu_imu_t *imu, const rnnmcu_i2c_t *bus);

/* Reset and configure: +-8 g, +-2000 deg/s, output data rate >= rate_hz (the board's timer
 * sets the actual sampling), low-pass filter below the Nyquist rate. */
rnnmcu_imu_status_t rnnmcu_imu_init(rnnmcu_imu_t *imu, uint32_t rate_hz);

/* One sample: raw[0..2] accelerometer x y z, raw[3..5] gyroscope x y z (sensor counts). */
rnnmcu_imu_status_t rnnmcu_imu_read(const rnnmcu_imu_t *imu, int16_t raw[6]);

/* Counts -> the units the models are trained on: m/s^2 and deg/s. */
void rnnmcu_imu_to_units(const rnnmcu_imu_t *imu, const int16_t raw[6], float out[6]);

#ifdef __cplusplus
}
#endif
#endif
