r"""Text without a download: a byte-level corpus of the Python standard library's docstrings, and a
synthetic copying task.

**The corpus.** The docstrings of a fixed list of pure-Python standard-library modules
(:data:`MODULES`, sorted), read from their source files with :mod:`ast` — nothing is imported or
executed, nothing is downloaded. Each module's docstrings (module, classes, functions, methods, in
depth-first in source order) are documents; a document goes
to the validation split when ``zlib.crc32("module:qualified.name") % 10 == 0`` — about a tenth of
them, and a document keeps its split across Python versions as long as its name exists. Documents
are joined with a blank line and encoded as UTF-8; the tokens are the bytes (vocabulary 256).

On CPython 3.11.7 (this machine): 64 modules, 2,618 documents, 526,530 training bytes and 58,638
validation bytes. Other Python versions differ a little (docstrings get edited, modules are
reorganised): :func:`describe` reports the sizes and a SHA-256 of the text actually used, and the
results directories record it. Licence: the text is the Python Software Foundation's, distributed
under the PSF License Agreement (Python 3.11's ``LICENSE``); it is used here only as training data.

**Windows.** A language-modelling example is a window of ``context + 1`` consecutive tokens (inputs
``w[:-1]``, targets ``w[1:]``). :func:`windows` draws ``n`` windows at offsets chosen uniformly by
``numpy.random.default_rng(seed)`` from one split's token stream, so a small training set still
covers the whole corpus.

**Copying task.** :func:`copy_task`: ``k`` random tokens, a separator, the same ``k`` tokens again;
the loss counts only the predictions of the repeated half (a mask), whose optimum is 0 — a model
must learn an induction-like lookup. Random tokens are drawn from ``1 … vocab−1`` and ``0`` is the
separator.

>>> x, mask = copy_task(4, 4, vocab=16, seed=0)
>>> x.shape, mask.shape, bool((x[:, 1:5] == x[:, 6:10]).all())
((4, 10), (4, 9), True)
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import sysconfig
import zlib

import numpy as np

MODULES = tuple(sorted("""
    _pydecimal argparse ast bisect calendar codecs collections configparser contextlib copy csv dataclasses
    datetime difflib enum fileinput fnmatch fractions functools getopt gettext glob heapq hmac inspect
    ipaddress json locale logging mailbox numbers operator optparse os pathlib pickle platform pprint pydoc
    queue random re selectors shlex shutil smtplib socket ssl statistics string subprocess tarfile tempfile
    textwrap threading timeit tokenize traceback typing unittest uuid warnings weakref zipfile
""".split()))
"""The standard-library modules whose docstrings make the corpus (sorted; pure Python, each present in
every CPython since 3.7)."""

VOCAB = 256
VALID_MOD = 10  # a document is validation when crc32(name) % VALID_MOD == 0


def _source_path(module: str, root: str) -> str | None:
    """``<stdlib>/<module>.py`` or ``<stdlib>/<module>/__init__.py`` (``None`` if neither exists)."""
    for p in (os.path.join(root, module + ".py"), os.path.join(root, module, "__init__.py")):
        if os.path.isfile(p):
            return p
    return None


def documents(module: str, source: str) -> list[tuple[str, str]]:
    """``[(name, docstring)]`` of one module's source: the module's own (named ``module``), then every
    class and function depth-first in source order, named ``module:Outer.inner``; empty ones skipped.

    >>> documents("m", chr(10).join(["'M.'", "class A:", "    'An A.'", "    def f(self):", "        'Do f.'"]))
    [('m', 'M.'), ('m:A', 'An A.'), ('m:A.f', 'Do f.')]
    """
    tree = ast.parse(source)
    out = [(module, ast.get_docstring(tree))]

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                out.append((f"{module}:{name}", ast.get_docstring(child)))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return [(name, doc) for name, doc in out if doc]


def is_validation(name: str) -> bool:
    """The document ``name`` belongs to the validation split (``crc32(name) % 10 == 0``)."""
    return zlib.crc32(name.encode()) % VALID_MOD == 0


@functools.lru_cache(maxsize=2)
def text(split: str = "train", root: str | None = None) -> bytes:
    """The corpus split ``"train"`` or ``"valid"`` as UTF-8 bytes (documents joined by ``"\\n\\n"``).

    Reads only source files under ``root`` (default: this interpreter's standard library,
    ``sysconfig.get_paths()["stdlib"]``); a module of :data:`MODULES` missing there is skipped.
    """
    if split not in ("train", "valid"):
        raise ValueError(f"split: expected 'train' or 'valid', found {split!r}")
    root = root or sysconfig.get_paths()["stdlib"]
    parts = []
    for module in MODULES:
        path = _source_path(module, root)
        if path is None:
            continue
        with open(path, encoding="utf-8") as f:
            docs = documents(module, f.read())
        parts += [doc for name, doc in docs if is_validation(name) == (split == "valid")]
    return "\n\n".join(parts).encode("utf-8")


def tokens(split: str = "train") -> np.ndarray:
    """The split's byte tokens, ``uint8`` of shape ``(n_bytes,)``."""
    return np.frombuffer(text(split), dtype=np.uint8)


def windows(stream: np.ndarray, n: int, context: int, seed: int = 0) -> np.ndarray:
    """``n`` windows of ``context + 1`` consecutive tokens at offsets drawn uniformly (with replacement)
    from ``0 … len(stream) − context − 1`` by ``numpy.random.default_rng(seed)``; ``int32 (n, context+1)``.

    >>> windows(np.arange(100, dtype=np.uint8), 2, 4, seed=0).shape
    (2, 5)
    """
    if len(stream) < context + 1:
        raise ValueError(f"stream: expected at least context + 1 = {context + 1} tokens, found {len(stream)}")
    starts = np.random.default_rng(seed).integers(0, len(stream) - context, size=n)
    return np.stack([stream[s:s + context + 1] for s in starts]).astype(np.int32)


def load(context: int, n_train: int, n_valid: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation windows of the stdlib-docstring corpus (seeds ``seed`` and ``seed + 1``)."""
    return (windows(tokens("train"), n_train, context, seed),
            windows(tokens("valid"), n_valid, context, seed + 1))


def describe() -> dict:
    """Sizes and SHA-256 of the corpus this interpreter gives (for manifests and docs)."""
    root = sysconfig.get_paths()["stdlib"]
    found = [m for m in MODULES if _source_path(m, root) is not None]
    train, valid = text("train"), text("valid")
    return {"modules": len(found), "missing": [m for m in MODULES if m not in found],
            "train_bytes": len(train), "valid_bytes": len(valid),
            "sha256": hashlib.sha256(train + b"\0" + valid).hexdigest(),
            "python": ".".join(map(str, __import__("sys").version_info[:3])), "licence": "PSF-2.0"}


def copy_task(n: int, k: int, vocab: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` copying sequences ``[s, x_1 … x_k, s, x_1 … x_k]`` (``s = 0``, ``x_i`` uniform in
    ``1 … vocab−1``), ``int32 (n, 2k+2)``, and the loss mask ``(n, 2k+1)`` over the targets (``1`` where
    the target is a repeated token ``x_i`` of the second half: predictable from the context)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, k))
    sep = np.zeros((n, 1), dtype=x.dtype)
    seq = np.concatenate([sep, x, sep, x], axis=1).astype(np.int32)
    mask = np.zeros((n, 2 * k + 1), dtype=np.float32)
    mask[:, k + 1:] = 1.0  # targets seq[k+2:] = the second copy
    return seq, mask
