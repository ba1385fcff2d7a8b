"""Every test README.md and docs/*.md point to exists (run by ``make lint``).

A reference is a ``tests/...py`` path, optionally followed by ``::Name`` parts
(``tests/e2e/test_alerts.py::TestTheCommandLine::test_alert_list_...``). The file must
exist, and each part must be defined there: a top-level function or class, then a
method or nested class of the class before it. Files are read with ``ast``, not
imported, so the check needs neither a database nor Redis.

Usage: ``python scripts/check_promises.py`` from anywhere; exits 1 and lists every
missing reference.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"\btests/[\w/]+\.py(?:::\w+)*")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def defined(body: list[ast.stmt], name: str) -> ast.stmt | None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return node
    return None


def problem(reference: str, trees: dict[Path, ast.Module]) -> str | None:
    """Why ``reference`` points at nothing, or None when it exists."""
    path, *names = reference.split("::")
    file = ROOT / path
    if not file.is_file():
        return f"{path} does not exist"
    if file not in trees:
        trees[file] = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    body: list[ast.stmt] = trees[file].body
    for depth, name in enumerate(names):
        node = defined(body, name)
        if node is None:
            where = "::".join([path, *names[:depth]])
            return f"{where} defines no {name}"
        body = node.body if isinstance(node, ast.ClassDef) else []
    return None


def main() -> int:
    trees: dict[Path, ast.Module] = {}
    missing: list[str] = []
    count = 0
    for document in documents():
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            for reference in REFERENCE.findall(line):
                count += 1
                why = problem(reference, trees)
                if why:
                    missing.append(f"{document.relative_to(ROOT)}:{number}: {reference}: {why}")
    for line in missing:
        print(line, file=sys.stderr)
    if missing:
        print(f"{len(missing)} of {count} test references point at nothing", file=sys.stderr)
        return 1
    print(f"{count} test references in README.md and docs/*.md, all found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
