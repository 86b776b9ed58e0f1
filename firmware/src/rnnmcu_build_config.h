/* rnnmcu — build options of the runtime.  This is the default (no options): a firmware project
 * built with options (rnnmcu build --trace) carries its own copy of this file, written by
 * rnnmcu.platformio.generate_project, e.g. with `#define RNNMCU_TRACE 1`. */
#ifndef RNNMCU_BUILD_CONFIG_H
#define RNNMCU_BUILD_CONFIG_H
#endif
