"""benchmarks/regenerate_figures.sh in --dry-run: its sections, the commands it would run, and that
every script, flag and README section it names exists (nothing is trained)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "regenerate_figures.sh"
SECTIONS = ["demo", "samplers", "qpc", "speed"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHON": "python3", "RUNS": str(tmp_path / "runs")}
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def commands_by_section(stdout: str) -> dict[str, list[list[str]]]:
    """The `$ command` lines under each `=== section:` header, split into words, in order."""
    sections: dict[str, list[list[str]]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("=== "):
            current = line[4:].split(":")[0]
            sections[current] = []
        elif line.strip().startswith("$ "):
            assert current is not None, f"a command before any section: {line}"
            sections[current].append(line.strip()[2:].split())
    return sections


def test_dry_run_prints_every_section_in_order_and_runs_nothing(tmp_path):
    """--dry-run lists demo, samplers, qpc and speed in that order, at least one command each (the demo
    one is demo_seeds.py at seeds 0 1 2), and creates no run directory."""
    done = dry_run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    sections = commands_by_section(done.stdout)
    assert list(sections) == SECTIONS and all(sections.values())
    assert sections["demo"] == [["python3", "benchmarks/demo_seeds.py", "--seeds", "0", "1", "2", "--out",
                                 str(tmp_path / "runs" / "demo-seeds")]]  # fmt: skip
    assert any("benchmarks/sampler_table.py" in c for c in sections["samplers"])
    assert any(c[1:4] == ["benchmarks/quality_per_compute.py", "--setting", "mnist"] for c in sections["qpc"])
    assert any("benchmarks/bench.py" in c for c in sections["speed"])
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("only", SECTIONS)
def test_only_prints_that_section_alone(tmp_path, only):
    """--only NAME prints NAME's commands and no other section's (fails if --only is ignored)."""
    done = dry_run(tmp_path, "--only", only)
    assert done.returncode == 0, done.stdout + done.stderr
    sections = commands_by_section(done.stdout)
    assert list(sections) == [only] and sections[only]


def test_an_unknown_section_is_refused(tmp_path):
    """--only with a name that is not a section exits 2 with a line naming the choices."""
    done = dry_run(tmp_path, "--only", "figures")
    assert done.returncode == 2 and "demo, samplers, qpc or speed" in done.stderr


def _parser_source(command: list[str]) -> str:
    """The source that defines the command's flags: the benchmark script, or `rin SUB`'s module."""
    if command[1:3] == ["-m", "rin"]:
        cli = ROOT / "rin" / "cli"
        return (cli / f"{command[3]}.py").read_text() + (cli / "common.py").read_text()
    script = ROOT / command[1]
    assert script.is_file(), f"{command[1]} does not exist"
    return script.read_text()


def test_every_script_and_flag_the_commands_use_exists(tmp_path):
    """Each command's script (or `rin` subcommand) exists and defines every --flag the command passes."""
    done = dry_run(tmp_path)
    commands = [c for cs in commands_by_section(done.stdout).values() for c in cs]
    assert len(commands) >= 10
    for command in commands:
        source = _parser_source(command)
        for flag in (word for word in command if word.startswith("--")):
            assert f'"{flag}"' in source, f"{' '.join(command[:4])}: {flag} is not one of its options"


def test_every_step_names_a_readme_section_that_exists(tmp_path):
    """Every `--- regenerates ... (README: X)` line names headings that README.md (or, when it says so,
    benchmarks/README.md) has."""
    headings = {
        doc: [
            line.lstrip("#").strip()
            for line in (ROOT / doc).read_text().splitlines()
            if line.startswith("##")
        ]
        for doc in ("README.md", "benchmarks/README.md")
    }
    steps = [line for line in dry_run(tmp_path).stdout.splitlines() if line.startswith("--- regenerates")]
    assert steps
    for line in steps:
        where = re.search(r"\(README: (.*)\)$", line)
        assert where, f"names no README section: {line}"
        for part in where.group(1).split(";"):
            doc, name = "README.md", part.strip()
            if name.startswith("benchmarks/README.md "):
                doc, name = "benchmarks/README.md", name.removeprefix("benchmarks/README.md ")
            name = name.split(" > ")[0].split(" (")[0]
            assert any(h.startswith(name) for h in headings[doc]), f"{doc} has no section {name!r}: {line}"
