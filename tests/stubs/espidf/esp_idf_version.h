/* STAND-IN for compile checks only (tests/stubs/README.md): ESP-IDF esp_idf_version.h. */
#ifndef RNNMCU_STUB_ESP_IDF_VERSION_H
#define RNNMCU_STUB_ESP_IDF_VERSION_H
#define ESP_IDF_VERSION_MAJOR 5
#define ESP_IDF_VERSION_MINOR 1
#define ESP_IDF_VERSION_PATCH 2
#define ESP_IDF_VERSION_VAL(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define ESP_IDF_VERSION \
    ESP_IDF_VERSION_VAL(ESP_IDF_VERSION_MAJOR, ESP_IDF_VERSION_MINOR, ESP_IDF_VERSION_PATCH)
#endif
