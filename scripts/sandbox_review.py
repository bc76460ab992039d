"""Static review of a student's solution code: what the grader will not trust without a human look.

`findings(source, protected)` parses one solution cell (no code runs) and returns one line per
construct that could reach the grader's checks instead of answering the exercise. Such a solution
is still run, but its exercise gets the status `needs review` and no points until an instructor
has read it. The rules (README, *For instructors*):

1. imports other than the numerical standard library, numpy and torch (ALLOWED_IMPORTS);
   os, sys, subprocess, inspect, gc, ctypes, importlib, builtins, threading, IPython ... are flagged;
2. names that reach the interpreter: exec, eval, compile, open, __import__, globals, locals, vars,
   getattr, setattr, delattr, get_ipython, breakpoint, input, exit, quit, IPython's In/Out/_ih/_oh;
3. any dunder name or attribute (`__class__`, `__globals__`, `__code__`, `__builtins__` ...) except
   `__init__`, and frame or traceback attributes (`f_back`, `f_locals`, `tb_frame`, `gi_frame` ...);
4. private attributes (`x._name`, e.g. `sys._getframe`, `torch._C`) except on `self` and `cls`;
5. file, process and pickle APIs of numpy and torch (np.load, np.fromfile, torch.load, torch.hub,
   torch.multiprocessing, torch.distributed, torch.utils.cpp_extension ...);
6. assignments to an attribute of a module or of a name the chapter defines (`np.allclose = ...`,
   `torch.testing.assert_close = ...`), and rebinding at top level a name that the chapter's own
   cells define or import (`np = ...`, `def check_table(...)`), `global` and `nonlocal`;
7. classes that define special methods other than __init__, __repr__, __str__ (an `__eq__` that is
   always True passes `==` checks); three-argument `type(...)`;
8. code that is not plain Python (IPython magics, `!shell` lines): it cannot be reviewed statically.
"""

import ast

ALLOWED_IMPORTS = {"numpy", "torch", "math", "cmath", "itertools", "functools", "collections", "typing",
                   "dataclasses", "random", "statistics", "operator", "heapq", "bisect", "fractions",
                   "decimal", "string", "re", "copy", "enum", "numbers", "abc", "matplotlib"}
FORBIDDEN_SUBMODULES = {"torch.multiprocessing", "torch.distributed", "torch.hub", "torch.utils",
                        "torch.ops", "torch.library", "torch.package", "torch.jit", "torch.compiler",
                        "numpy.ctypeslib", "numpy.f2py", "numpy.distutils",
                        "matplotlib.backends"}
FORBIDDEN_NAMES = {"exec", "eval", "compile", "open", "__import__", "globals", "locals", "vars", "getattr",
                   "setattr", "delattr", "get_ipython", "breakpoint", "input", "exit", "quit", "help",
                   "memoryview", "In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "_dh", "display"}
FORBIDDEN_ATTRS = {"f_back", "f_locals", "f_globals", "f_builtins", "f_code", "f_lineno", "gi_frame",
                   "cr_frame", "ag_frame", "tb_frame", "tb_next", "co_code", "co_consts", "func_globals",
                   "load", "save", "fromfile", "tofile", "memmap", "loadtxt", "savetxt", "genfromtxt",
                   "DataSource", "hub", "multiprocessing", "distributed", "cpp_extension", "ops", "library",
                   "ctypeslib", "system", "popen"}
ALLOWED_DUNDERS = {"__init__"}
ALLOWED_SPECIAL_METHODS = {"__init__", "__repr__", "__str__"}


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _parse(source):
    """The cell's syntax tree, or None if it does not parse."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _imported(node):
    """The names an import statement binds (`import a.b` binds a; `from m import *` nothing we can name)."""
    return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}


def bound_names(source):
    """Top-level names a cell binds (assignments, def, class, import, for, with); {} if it does not parse."""
    tree = _parse(source)
    if tree is None:
        return set()
    names = set()
    for node in tree.body:
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                           ast.ClassDef)) else [node]:
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                names.update(_imported(sub))
    return names


def defined_names(source):
    """Top-level functions, classes and imports of a cell (not its plain variables)."""
    tree = _parse(source)
    if tree is None:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(_imported(node))
    return names


def free_names(source):
    """Names a cell reads without binding them itself: what it takes from the cells before it."""
    tree = _parse(source)
    if tree is None:
        return set()
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - bound_names(source)


def protected_names(chapter_cells, check_cells):
    """Names a solution must not rebind: the chapter's functions, classes and imports, and the
    variables its checks read from the chapter's cells (rebinding those could change a verdict)."""
    bound = set().union(*(bound_names(s) for s in chapter_cells)) if chapter_cells else set()
    protected = set().union(*(defined_names(s) for s in chapter_cells)) if chapter_cells else set()
    for source in check_cells:
        protected |= free_names(source) & bound
    return protected


def module_aliases(source):
    """{alias: module} for the imports of a cell."""
    tree = _parse(source)
    if tree is None:
        return {}
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _import_problem(module):
    top = module.split(".")[0]
    if top not in ALLOWED_IMPORTS:
        return f"imports {module}"
    if any(module == m or module.startswith(m + ".") for m in FORBIDDEN_SUBMODULES):
        return f"imports {module}"
    if any(part.startswith("_") for part in module.split(".")):
        return f"imports the private module {module}"
    return None


def findings(source, protected=frozenset(), aliases=None, own=frozenset()):
    """Lines like 'line 3: imports os' for what in `source` needs a human look ([] when none).

    protected: names the chapter's own cells define or import (rebinding them is flagged);
    aliases: {name: module} of the chapter's imports (np -> numpy), to resolve `np.load`;
    own: names the instructor's solution of this exercise defines (the student may define them).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return [f"line {err.lineno}: not plain Python (an IPython magic or !shell line?), so it cannot be reviewed"]
    chapter_aliases = aliases or {}
    reimports = {name for name, module in module_aliases(source).items() if chapter_aliases.get(name) == module}
    aliases = {**chapter_aliases, **module_aliases(source)}
    modules = {name for name, module in aliases.items() if "." not in module or module.split(".")[-1][:1].islower()}
    found = []

    def flag(node, what):
        found.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if problem := _import_problem(a.name):
                    flag(node, problem)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.level or (problem := _import_problem(module)):
                flag(node, f"imports {module}" if node.level else problem)
            for a in node.names:
                if a.name == "*" or (not node.level and _import_problem(f"{module}.{a.name}")):
                    flag(node, f"imports {a.name} from {module}")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES or node.id.startswith("__") and node.id.endswith("__"):
                flag(node, f"uses {node.id}")
            elif node.id.startswith("_grader"):
                flag(node, f"uses the grader's {node.id}")
        elif isinstance(node, ast.Attribute):
            attr, root = node.attr, _root(node)
            if attr.startswith("__") and attr.endswith("__"):
                if attr not in ALLOWED_DUNDERS:
                    flag(node, f"uses .{attr}")
            elif attr in FORBIDDEN_ATTRS and (root in modules or attr.startswith(("f_", "tb_", "co_", "gi_"))
                                              or attr in {"cr_frame", "ag_frame", "func_globals"}):
                flag(node, f"uses {_dotted(node) or '.' + attr}")
            elif attr.startswith("_") and root not in ("self", "cls"):
                flag(node, f"uses the private attribute .{attr}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            flag(node, f"declares {'global' if isinstance(node, ast.Global) else 'nonlocal'} {', '.join(node.names)}")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("__")
                        and item.name not in ALLOWED_SPECIAL_METHODS):
                    flag(item, f"class {node.name} defines {item.name}")
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    for t in targets:
                        if isinstance(t, ast.Name) and t.id.startswith("__") and t.id not in ALLOWED_SPECIAL_METHODS:
                            flag(item, f"class {node.name} sets {t.id}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type" \
                and len(node.args) == 3:
            flag(node, "builds a class with type(name, bases, namespace)")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Attribute) and isinstance(t.ctx, (ast.Store, ast.Del)):
                        root = _root(t)
                        if root in modules or root in protected and root not in own:
                            flag(node, f"assigns to {_dotted(t) or root + '...'}, which is not its own")
    for name in sorted(bound_names(source) & set(protected) - set(own) - reimports):
        line = next((n.lineno for n in tree.body if name in bound_names(ast.unparse(n))), "?")
        found.append(f"line {line}: rebinds {name}, which the chapter defines")
    return sorted(dict.fromkeys(found), key=lambda f: (int(f.split(":")[0][5:]) if f[5:].split(":")[0].isdigit()
                                                       else 0, f))
