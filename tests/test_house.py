"""The house rules that keep the repository readable: it stands alone (it cites no document that is
not in it), and every Markdown file it links to exists."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# background notes the project was started from; they are not part of the repository
OUTSIDE_DOCS = ("DESIGN" + ".md", "FACTS" + ".md", "shared" + "/")


def tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in out.decode().split("\0"):
        p = ROOT / name
        if name and p.is_file() and p.suffix not in (".png", ".npz", ".keras", ".h5", ".bin"):
            files.append(p)
    return files


def test_no_file_cites_a_document_outside_the_repository():
    found = []
    for p in tracked_text_files():
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if any(d in line for d in OUTSIDE_DOCS):
                found.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_every_linked_markdown_file_exists():
    missing = []
    for p in tracked_text_files():
        if p.suffix != ".md":
            continue
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", p.read_text()):
            if "://" not in target and not (p.parent / target).resolve().is_file():
                missing.append(f"{p.relative_to(ROOT)} -> {target}")
    assert not missing, "\n".join(missing)


# --- one fact, one place: rnnmcu/facts.py generates firmware/src/rnnmcu_facts.h -----------------

def test_the_facts_header_is_generated_from_facts_py():
    from rnnmcu import facts

    assert facts.HEADER_PATH == ROOT / "firmware" / "src" / "rnnmcu_facts.h"
    assert facts.HEADER_PATH.read_text() == facts.c_header(), "stale: run `python -m rnnmcu.facts`"
    assert facts.main(["--check"]) == 0


def test_the_c_compiler_sees_the_values_python_has(tmp_path, c_compilers):
    """Compiled, not grepped: the formula macros (tile units, wide order, gates per cell) and the
    enums, printed by a C program that includes the runtime's and the app's headers."""
    from rnnmcu import facts

    exprs = {f"gates {k.name}": f"RNNMCU_CELL_GATES(RNNMCU_CELL_{k.name.upper()})" for k in facts.CELL_KINDS}
    exprs |= {f"cell {k.name}": f"RNNMCU_CELL_{k.name.upper()}" for k in facts.CELL_KINDS}
    exprs |= {f"tile {g}": f"RNNMCU_TILE_UNITS({g}u)" for g in (1, 3, 4)}
    exprs |= {f"w16 {j}": f"RNNMCU_W16_AT({j}u)" for j in range(4)}
    exprs |= {"mv rows": "RNNMCU_MV_ROWS", "mv cols": "RNNMCU_MV_COLS", "version": "RNNMCU_PROTO_VERSION",
              "reply": "RNNMCU_PROTO_REPLY", "error": "RNNMCU_PROTO_ERROR"}
    exprs |= {f"type {n}": f"RNNMCU_PROTO_{n}" for n in facts.PROTO_TYPES}
    exprs |= {f"err {n}": f"RNNMCU_PROTO_ERR_{n}" for n in facts.PROTO_ERRORS}
    exprs |= {f"prec {n}": f"RNNMCU_PRECISION_{n}" for n in facts.PRECISIONS}
    exprs |= {f"flag {n}": f"RNNMCU_MODEL_{n}" for n in facts.MODEL_FLAGS}
    exprs |= {f"st {n}": f"RNNMCU_ST_{n}" for n in facts.STREAM_CODES}
    src = tmp_path / "facts.c"
    src.write_text('#include <stdio.h>\n#include "rnnmcu_kernels.h"\n#include "rnnmcu_model_iface.h"\n'
                   '#include "rnnmcu_proto.h"\nint main(void) {\n'
                   + "".join(f'    printf("{k}=%lu\\n", (unsigned long)({e}));\n' for k, e in exprs.items())
                   + "    return 0;\n}\n")
    exe = tmp_path / "facts"
    subprocess.run([c_compilers["gcc"], "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    f"-I{ROOT / 'firmware' / 'src'}", f"-I{ROOT / 'firmware' / 'app'}", str(src), "-o", str(exe)],
                   check=True)
    got = dict(line.split("=") for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                           check=True).stdout.splitlines())
    want = {f"gates {k.name}": len(k.gates) for k in facts.CELL_KINDS}
    want |= {f"cell {k.name}": k.code for k in facts.CELL_KINDS}
    want |= {f"tile {g}": facts.tile_units(g) for g in (1, 3, 4)}
    want |= {f"w16 {j}": p for j, p in enumerate(facts.WIDE_ORDER)}
    want |= {"mv rows": facts.MV_ROWS, "mv cols": facts.MV_COLS, "version": facts.PROTOCOL_VERSION,
             "reply": facts.PROTO_REPLY, "error": facts.PROTO_ERROR}
    want |= {f"type {n}": v for n, v in facts.PROTO_TYPES.items()}
    want |= {f"err {n}": v for n, v in facts.PROTO_ERRORS.items()}
    want |= {f"prec {n}": v for n, v in facts.PRECISIONS.items()}
    want |= {f"flag {n}": v for n, (v, _) in facts.MODEL_FLAGS.items()}
    want |= {f"st {n}": v for n, v in facts.STREAM_CODES.items()}
    assert {k: int(v) for k, v in got.items()} == want


def test_no_other_c_file_defines_a_fact():
    """The runtime, app and streaming app include rnnmcu_facts.h; none defines one of its names."""
    facts_h = ROOT / "firmware" / "src" / "rnnmcu_facts.h"
    names = set(re.findall(r"#define (RNNMCU_\w+)", facts_h.read_text()))
    names |= set(re.findall(r"^\s+(RNNMCU_\w+) = ", facts_h.read_text(), re.M))
    found = []
    for p in sorted((ROOT / "firmware").rglob("*.[ch]")) + sorted((ROOT / "tests" / "c").rglob("*.[ch]")):
        if p == facts_h:
            continue
        for n, line in enumerate(p.read_text().splitlines(), 1):
            m = re.match(r"\s*#\s*define\s+(RNNMCU_\w+)|\s+(RNNMCU_\w+)\s*=\s*\d", line)
            if m and (m.group(1) or m.group(2)) in names:
                found.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_every_runtime_function_is_defined_by_its_name():
    """Each function rnnmcu_kernels.h declares is defined under its own name in one .c file of
    firmware/src (an arch's file of the same name may replace it): `grep -rn "name(" firmware/`
    lands on its body, not on a template or a macro that synthesises it.  The one template left
    is the matrix-vector kernel's, whose element types truly vary: each of its functions is the
    file of its name (rnnmcu_matvec_s8.c, ...)."""
    src = ROOT / "firmware" / "src"
    header = (src / "rnnmcu_kernels.h").read_text()
    declared = set(re.findall(r"^(?:void|int|float|const char \*)\s+(rnnmcu_\w+)\(", header, re.M))
    assert len(declared) > 70  # every step, width, layout and input form, and the other layers
    defined: dict[str, list[str]] = {}
    for p in sorted(src.glob("*.c")):
        for name in re.findall(r"^(?:[\w ]+\s\**)(rnnmcu_\w+)\([^;]*?\)\s*\{", p.read_text(), re.M | re.S):
            defined.setdefault(name, []).append(p.name)
    for p in sorted(src.glob("rnnmcu_matvec_*.c")):
        if re.search(rf"#define RNNMCU_MV_FN {p.stem}\b", p.read_text()):
            defined.setdefault(p.stem, []).append(p.name)
    missing = sorted(n for n in declared if n not in defined)
    twice = sorted(f"{n}: {fs}" for n, fs in defined.items() if n in declared and len(fs) > 1)
    assert not missing, f"declared in rnnmcu_kernels.h, defined by no firmware/src/*.c under its name: {missing}"
    assert not twice, twice
    assert "rnnmcu_lstm_step_s8" in defined and "rnnmcu_gru_step_px_w16_s16" in defined


# --- rooms that hold: who may import whom (docs/ARCHITECTURE.md, "The rooms") -----------------

CORE = {"rnnmcu", "rnnmcu.facts", "rnnmcu.ir", "rnnmcu.footprint", "rnnmcu.errors", "rnnmcu.data",
        "rnnmcu.atomic", "rnnmcu.__version__", "rnnmcu.firmware"}
MAY_IMPORT = {
    "core": {"core"},
    "boards": {"core", "boards"},
    "hil": {"core", "hil"},
    "trainer": {"core", "trainer"},
    "codegen": {"core", "codegen"},
    "compare": {"core", "trainer", "codegen", "compare", "top"},
    "top": {"core", "boards", "hil", "trainer", "codegen", "compare", "top"},
}
KERAS_FREE = {"core", "boards", "hil", "codegen"}
# imports across the rule that are known and owned (docs/ARCHITECTURE.md, "Not yet in order")
KNOWN_CROSSINGS: set[tuple[str, str]] = set()


def room_of_file(rel: str) -> str:
    top = rel.split("/")[0]
    if top in ("trainer", "codegen", "boards"):
        return top
    if rel.startswith("rnnmcu/hil/"):
        return "hil"
    if rel.startswith("rnnmcu/compare/"):
        return "compare"
    mod = "rnnmcu." + rel[len("rnnmcu/"):-len(".py")].replace("/", ".")
    return "core" if mod in CORE or rel == "rnnmcu/__init__.py" else "top"


def room_of_module(mod: str) -> str | None:
    """The room of an imported module; None for one outside rnnmcu."""
    if mod.split(".")[0] != "rnnmcu":
        return None
    if mod in CORE:
        return "core"
    for room in ("trainer", "codegen", "boards", "hil", "compare"):
        if mod == f"rnnmcu.{room}" or mod.startswith(f"rnnmcu.{room}."):
            return room
    return "top"


def test_the_cli_is_one_package():
    """Every click command lives in rnnmcu/cli/ (the top room, thin over the API): no other module
    defines one."""
    outside = []
    for p in sorted(ROOT.glob("*/**/*.py")):
        rel = p.relative_to(ROOT).as_posix()
        if rel.startswith(("rnnmcu/cli/", "tests/", ".venv/", "bench/", "build/")) or "/." in rel:
            continue
        if re.search(r"^@click\.(command|group)|^@\w+\.command\(", p.read_text(errors="replace"), re.M):
            outside.append(rel)
    assert not outside, f"click commands outside rnnmcu/cli/: {outside}"


def imports_of(source: str) -> set[str]:
    """Every module a file imports, the lazy imports inside functions included."""
    import ast

    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "rnnmcu":  # from rnnmcu import ir, facts
                out |= {f"rnnmcu.{a.name}" for a in node.names}
            else:
                out.add(node.module)
    return out


def crossings(rel: str, source: str) -> list[str]:
    room = room_of_file(rel)
    bad = []
    for mod in sorted(imports_of(source)):
        target = room_of_module(mod)
        if target is not None and target not in MAY_IMPORT[room] and (rel, mod) not in KNOWN_CROSSINGS:
            bad.append(f"{rel} ({room}) imports {mod} ({target})")
        if room in KERAS_FREE and mod.split(".")[0] in ("keras", "tensorflow", "tf_keras"):
            bad.append(f"{rel} ({room}) imports {mod}")
    return bad


def test_no_room_imports_across_the_rule():
    bad = []
    for folder in ("rnnmcu", "trainer", "codegen", "boards"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            rel = str(p.relative_to(ROOT))
            if rel.startswith("boards/platform/"):  # PlatformIO's SCons scripts, not rnnmcu modules
                continue
            bad += crossings(rel, p.read_text())
    assert not bad, "\n".join(bad)


def test_the_boundary_check_catches_a_crossing():
    assert crossings("codegen/x.py", "def f():\n    from rnnmcu.trainer import keras_import\n")
    assert crossings("trainer/x.py", "from rnnmcu.codegen import quantize\n")
    assert crossings("rnnmcu/ir.py", "from rnnmcu import api\n")
    assert crossings("rnnmcu/hil/x.py", "import keras\n")
    assert not crossings("trainer/x.py", "from rnnmcu import ir, facts\nimport keras\n")
    assert not crossings("rnnmcu/api.py", "from rnnmcu.codegen import quantize\nfrom rnnmcu.trainer import train\n")
