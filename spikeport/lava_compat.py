"""Make lava-nc 0.10.0 importable here without touching site-packages.

Two problems, two fixes, both applied from project code:

1. Python 3.11 (``install``). 
lava-nc 0.10.0 was released for Python 3.10. One of its modules,
``lava.magma.compiler.var_model``, declares dataclass fields whose default is an
instance of another dataclass (``x: ByteEncoder = ByteEncoder()``). Python 3.11
rejects such mutable defaults when the class is created, so ``import lava.magma``
fails. :func:`install` puts a finder on ``sys.meta_path`` that loads exactly that
module from its own source with those defaults rewritten as
``dataclasses.field(default_factory=ByteEncoder)``: each instance gets its own
encoder, which is what the 3.10 code meant. Nothing is written to disk (the
rewritten module is never cached as bytecode), and on Python < 3.11 the finder is
not installed at all.

Lava starts its worker processes with ``fork``, so a finder installed in the
parent holds inside every worker.

2. Start method (``prepare_lava_import``). Lava's message infrastructure calls
``multiprocessing.set_start_method('fork')`` when it is first imported, which raises
"context has already been set" in any process that used multiprocessing before
(PyTorch and scikit-learn do). Where the method in force is already ``fork`` (or
none yet), clearing it first is harmless and lets that import succeed.
"""
from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import multiprocessing
import sys
from types import CodeType

TARGET = "lava.magma.compiler.var_model"
_FIELD = "_spikeport_dataclass_field"


def needed() -> bool:
    """True where Python rejects lava-nc 0.10's dataclass defaults (3.11 and later)."""
    return sys.version_info >= (3, 11)


def _is_dataclass_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Name) and target.id == "dataclass") or (
        isinstance(target, ast.Attribute) and target.attr == "dataclass"
    )


class _DefaultFactoryRewriter(ast.NodeTransformer):
    """Turns ``name: T = Cls()`` in a dataclass body into a default_factory field."""

    def __init__(self) -> None:
        self.rewritten = 0

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        self.generic_visit(node)
        if not any(_is_dataclass_decorator(d) for d in node.decorator_list):
            return node
        for stmt in node.body:
            value = getattr(stmt, "value", None)
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and not value.args
                and not value.keywords
            ):
                stmt.value = ast.Call(
                    func=ast.Name(id=_FIELD, ctx=ast.Load()),
                    args=[],
                    keywords=[ast.keyword(arg="default_factory", value=value.func)],
                )
                self.rewritten += 1
        return node


def rewrite_source(source: bytes | str, filename: str) -> tuple[CodeType, int]:
    """Compile ``source`` with mutable dataclass defaults turned into factories.

    Returns the code object and how many fields were rewritten.
    """
    tree = ast.parse(source, filename=filename)
    rewriter = _DefaultFactoryRewriter()
    tree = rewriter.visit(tree)
    # The helper import goes after any `from __future__` imports.
    at = 0
    for at, stmt in enumerate(tree.body):
        if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__") and not (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            break
    helper = ast.ImportFrom(
        module="dataclasses", names=[ast.alias(name="field", asname=_FIELD)], level=0
    )
    tree.body.insert(at, helper)
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec", dont_inherit=True), rewriter.rewritten


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        # Always from source: a cached .pyc holds the unpatched module.
        code, _ = rewrite_source(self.get_data(self.path), self.path)
        return code


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = _PatchedLoader(fullname, spec.origin)
        return spec


def installed() -> bool:
    """True when the finder is on ``sys.meta_path``."""
    return any(isinstance(f, _Finder) for f in sys.meta_path)


def install() -> bool:
    """Put the finder on ``sys.meta_path`` (idempotent). Returns whether it is active.

    Must run before ``lava.magma`` is first imported; a no-op on Python < 3.11.
    """
    if not needed():
        return False
    if not installed():
        sys.meta_path.insert(0, _Finder())
    return True


_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


def prepare_lava_import() -> None:
    """Let Lava's own ``set_start_method('fork')`` succeed; call before importing
    ``lava.magma``. Raises RuntimeError where another start method was chosen."""
    install()
    if _LAVA_MP in sys.modules or sys.platform == "win32":
        return
    method = multiprocessing.get_start_method(allow_none=True)
    if method not in (None, "fork"):
        raise RuntimeError(
            f"Lava needs the 'fork' multiprocessing start method, but this process set {method!r}"
        )
    multiprocessing.set_start_method(None, force=True)


def import_slayer():
    """Import ``lava.lib.dl.slayer`` without its import-time chatter.

    On a machine without CUDA, torch's cpp_extension logs a warning when SLAYER
    loads it, and SLAYER's object-detection datasets print a notice about an
    optional Prophesee toolbox; neither concerns spikeport's users.
    """
    prepare_lava_import()
    if "lava.lib.dl.slayer" not in sys.modules:
        import contextlib
        import io
        import logging

        logger = logging.getLogger("torch.utils.cpp_extension")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                import lava.lib.dl.slayer  # noqa: F401
        finally:
            logger.setLevel(level)
    return sys.modules["lava.lib.dl.slayer"]
