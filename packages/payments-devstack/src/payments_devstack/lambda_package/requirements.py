"""A function's locked requirements, from `uv export`, split into third-party and workspace."""

import re
from dataclasses import dataclass
from pathlib import Path

from payments_devstack.errors import DevstackError
from payments_devstack.lambda_package.commands import run

# A requirement of `uv export`: `name==version [; marker] \` then `--hash=` lines; a workspace
# member is its path (`./packages/payments-core`).
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")


@dataclass(frozen=True)
class LockedRequirements:
    third_party: dict[str, str]  # normalized name -> its block of `uv export` text, hashes included
    workspace: tuple[str, ...]  # member paths relative to the repository

    def without(self, names: set[str]) -> "LockedRequirements":
        kept = {name: block for name, block in self.third_party.items() if name not in names}
        return LockedRequirements(kept, self.workspace)


def normalized(name: str) -> str:
    """PEP 503's form, as `uv export` and the left-out lists may spell a name differently."""
    return re.sub(r"[-_.]+", "-", name).lower()


def export(repo: Path, package: str) -> LockedRequirements:
    """`package`'s runtime requirements exactly as uv.lock pins them (no dev group)."""
    command = [
        "uv", "export", "--frozen", "--package", package, "--no-dev", "--no-editable",
        "--no-header", "--no-annotate",
    ]  # fmt: skip
    return parse(run(command, cwd=repo, what=f"uv export --package {package}"))


def parse(text: str) -> LockedRequirements:
    third_party: dict[str, str] = {}
    workspace: list[str] = []
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    for block in blocks:
        head = block[0].strip()
        if head.startswith("./"):
            workspace.append(head.removesuffix("\\").strip())
            continue
        match = _NAME.match(head)
        if match is None:
            raise DevstackError(f"unexpected line in uv export's output: {head}")
        third_party[normalized(match.group(1))] = "\n".join(block)
    return LockedRequirements(third_party, tuple(workspace))
