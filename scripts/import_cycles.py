"""List import cycles among the modules of mofgen, flows, stores and launchers (ast only).

``python scripts/import_cycles.py [ROOT] [--deferred]``. By default only imports executed
at import time count: module-level statements (also under ``if``/``try``), not imports
inside functions or under ``TYPE_CHECKING``. ``--deferred`` adds the function-level
imports, which hide a cycle from the interpreter but not from the reader.
Exit status 1 when there is a cycle.
"""
import ast
import sys
from pathlib import Path

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
DEFERRED = "--deferred" in sys.argv
ROOT = Path(ARGS[0] if ARGS else ".")
PACKAGES = ("mofgen", "flows", "stores", "launchers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


modules = {}
for pkg in PACKAGES:
    for path in (ROOT / pkg).rglob("*.py"):
        modules[module_name(path)] = path
# flows etc. are installed under mofgen (mofgen.flows): map both spellings
alias = {f"mofgen.{m}": m for m in modules if m.split(".")[0] in PACKAGES[1:]}


def resolve(name: str) -> str | None:
    name = alias.get(name, name)
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def top_level_imports(tree: ast.Module, me: str, is_pkg: bool):
    def walk(stmts):
        for node in stmts:
            if isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" in test:
                    yield from walk(node.orelse)
                    continue
                yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, ast.Try):
                yield from walk(node.body)
                for h in node.handlers:
                    yield from walk(h.body)
                yield from walk(node.orelse)
                yield from walk(node.finalbody)
            elif DEFERRED and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                ast.ClassDef)):
                yield from walk(node.body)
            elif DEFERRED and hasattr(node, "body") and isinstance(node.body, list):
                yield from walk(node.body)
                yield from walk(getattr(node, "orelse", []))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    yield a.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = me.split(".") if is_pkg else me.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                yield prefix
                for a in node.names:
                    yield f"{prefix}.{a.name}"
    yield from walk(tree.body)


graph = {}
for name, path in modules.items():
    tree = ast.parse(path.read_text())
    deps = set()
    for imp in top_level_imports(tree, name, path.name == "__init__.py"):
        target = resolve(imp)
        if target and target != name:
            deps.add(target)
    graph[name] = deps

# Tarjan's strongly connected components
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in graph[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))


for v in graph:
    if v not in index:
        strong(v)
kind = "module-level and deferred" if DEFERRED else "module-level"
print(f"{len(graph)} modules, {sum(map(len, graph.values()))} {kind} import edges")
for comp in sccs:
    print("cycle:", " <-> ".join(comp))
if not sccs:
    print("no import cycles")
sys.exit(1 if sccs else 0)
