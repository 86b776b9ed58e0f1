/* STAND-IN for compile checks only (tests/stubs/README.md).  The real sdkconfig.h is generated
 * from sdkconfig; the check passes the CONFIG_ values the generated sdkconfig.defaults sets
 * with -D. */
#ifndef RNNMCU_STUB_SDKCONFIG_H
#define RNNMCU_STUB_SDKCONFIG_H
#endif
