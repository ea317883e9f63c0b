"""Committed files that a command generates: compare them, rewrite them, report what changed.

``agora asyncapi`` (documents) and ``agora proto`` (gRPC stubs) each own one directory of the
repository that must hold exactly what their generator produces; CI fails when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agora_cli.ui import say, warn


@dataclass(frozen=True)
class GeneratedTree:
    """A directory holding exactly the generator's output (other files there are left alone).

    Attributes:
        what: The files' name in messages, e.g. ``AsyncAPI documents``.
        directory: The directory, relative to the repository root.
        pattern: Glob, relative to ``directory``, of the files the generator owns.
        fix_command: The command that regenerates them.
    """

    what: str
    directory: Path
    pattern: str
    fix_command: str

    def stale(self, root: Path, files: Mapping[Path, bytes]) -> list[Path]:
        """The committed files that differ from ``files``, are missing, or are orphans, sorted."""
        changed = [
            path for path, data in files.items() if not path.is_file() or path.read_bytes() != data
        ]
        present = {
            path
            for path in (root / self.directory).glob(self.pattern)
            if path.is_file() and "__pycache__" not in path.parts
        }
        return sorted([*changed, *(present - set(files))])

    def write(self, root: Path, files: Mapping[Path, bytes]) -> list[Path]:
        """Make the directory hold exactly ``files``; return the paths written or removed."""
        stale = self.stale(root, files)
        for path in stale:
            if path in files:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[path])
            else:
                path.unlink()
        return stale

    def stale_message(self, root: Path, stale: Sequence[Path]) -> str:
        """Name the stale files (relative to ``root``) and the command that fixes them."""
        names = ", ".join(str(path.relative_to(root)) for path in stale)
        return f"{self.what} out of date: {names}; run `{self.fix_command}` and commit the result"

    def command(self, root: Path, files: Mapping[Path, bytes], *, check: bool) -> int:
        """Write ``files`` (or with ``check`` only compare them) and say what happened.

        Returns:
            0 when written or up to date; 1 when ``check`` found stale files.
        """
        where = f"{len(files)} in {self.directory}"
        if check:
            stale = self.stale(root, files)
            if stale:
                warn(f"agora: {self.stale_message(root, stale)}")
                return 1
            say(f"{self.what} up to date ({where})")
            return 0
        changed = self.write(root, files)
        for path in changed:
            say(f"{'wrote' if path in files else 'removed'} {path.relative_to(root)}")
        say(f"{self.what}: {where}, {len(changed)} changed")
        return 0
