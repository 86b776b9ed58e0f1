"""SCons builder of the rnnmcu-emu PlatformIO dev platform: bare-metal ELF images for QEMU boards,
built with the system cross compilers (Debian packages) so that `pio run` works offline.

Everything board-specific comes from the board JSON (boards/<id>.json, `build.*`), and may be
overridden per project with `board_build.<key>` in platformio.ini.  `pio run -t upload` has
nothing to flash: emulated boards run under `rnnmcu` (QEMU), which it says.
"""
import os
import shutil
import subprocess
import sys

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
board = env.BoardConfig()


def fail(message):
    sys.stderr.write("Error: %s\n" % message)
    env.Exit(1)


prefix = board.get("build.prefix")
cpu_flags = list(board.get("build.cpu_flags", []))
debs = board.get("build.debian_packages", "")
gcc = shutil.which(prefix + "gcc")
if gcc is None:
    fail("%sgcc is not installed; install the Debian packages: sudo apt-get install %s"
         % (prefix, debs))
bindir = os.path.dirname(gcc)


def tool(name):
    return os.path.join(bindir, prefix + name)


def resolve_specs(spec):
    if os.path.isabs(spec):
        if not os.path.isfile(spec):
            fail("%s is missing; install the Debian packages: sudo apt-get install %s" % (spec, debs))
        return spec
    found = subprocess.run([gcc, "-print-file-name=" + spec], capture_output=True, text=True,
                           check=False).stdout.strip()
    if not os.path.isabs(found):
        fail("%s for %sgcc is missing; install the Debian packages: sudo apt-get install %s"
             % (spec, prefix, debs))
    return found


specs = ["--specs=" + resolve_specs(board.get("build.specs"))] if board.get("build.specs", "") else []

ldscript = board.get("build.ldscript")
if not os.path.isabs(ldscript):
    ldscript = os.path.join(env.subst("$PROJECT_SRC_DIR"), ldscript)
if not os.path.isfile(ldscript):
    fail("linker script %s not found: the board entry files belong in the project's src/ "
         "(regenerate the project with rnnmcu)" % ldscript)

env.Replace(
    AR=tool("ar"),
    AS=tool("gcc"),
    CC=tool("gcc"),
    CXX=tool("g++"),
    GDB=tool("gdb"),
    OBJCOPY=tool("objcopy"),
    RANLIB=tool("ranlib"),
    SIZETOOL=tool("size"),
    LINK=tool("gcc"),
    ARFLAGS=["rc"],
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    LDSCRIPT_PATH=ldscript,
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    # flash: what must be stored (code, constants, initialised data); RAM: data, bss and stack
    SIZEPROGREGEXP=r"^(?:\.text|\.rodata|\.data|\.ARM\.exidx|\.init_array|\.fini_array)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

env.Append(
    ASFLAGS=cpu_flags + specs,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=cpu_flags + specs + ["-ffunction-sections", "-fdata-sections"],
    LINKFLAGS=cpu_flags + specs + ["-nostartfiles", "-Wl,--gc-sections",
                                   "-Wl,--no-warn-rwx-segments"],
)

if board.get("build.nostdlib", False):
    # The multilib picked by the CPU flags has no picolibc/libgcc (Debian's riscv64-unknown-elf-gcc:
    # rv32imc_zicsr picks the rv64 default): link the ones of a compatible base ISA by path.
    lib_march = list(board.get("build.lib_march", []))
    libgcc = subprocess.run([gcc] + lib_march + ["-print-libgcc-file-name"], capture_output=True,
                            text=True, check=False).stdout.strip()
    libc = board.get("build.libc")
    for lib in (libc, libgcc):
        if not os.path.isfile(lib):
            fail("%s is missing; install the Debian packages: sudo apt-get install %s" % (lib, debs))
    env.Append(LINKFLAGS=["-nostdlib"], LIBS=[env.File(libc), env.File(libgcc)])

target_elf = env.BuildProgram()

target_size = env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD",
                                                              "Calculating size $SOURCE"))
AlwaysBuild(target_size)


def no_upload(*_args, **_kwargs):
    sys.stderr.write("Error: %s is an emulated board: there is nothing to flash. Run the firmware "
                     "with rnnmcu (it starts QEMU), e.g. `rnnmcu test --board ...`\n"
                     % env.subst("$PIOENV"))
    env.Exit(1)


AlwaysBuild(env.Alias("upload", target_elf, no_upload))
Default([target_elf])
