"""The README's examples that a reader pastes: run as written, they give what the README says."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def test_the_pasteable_resource_list_gives_the_answer_shown() -> None:
    section = README.split("### KRM mode by hand", 1)[1].split("\n### ", 1)[0]
    heredoc = re.search(r"```sh\nairflow-sidecars inject <<'EOF'\n(.*?)EOF\n```", section, re.S)
    answer = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert heredoc is not None and answer is not None
    completed = run_cli("inject", stdin=heredoc.group(1).encode())
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode() == answer.group(1)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces
    to `-`."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def test_every_link_within_the_readme_has_its_heading() -> None:
    prose = re.sub(r"^```.*?^```", "", README, flags=re.S | re.M)  # a `#` in code is no heading
    headings = {_slug(line.lstrip("#").strip()) for line in prose.splitlines() if line[:1] == "#"}
    links = re.findall(r"\]\(#([^)]+)\)", README)
    assert links, "the README links to its own sections"
    assert sorted(set(links) - headings) == []


def test_the_readme_says_what_the_test_command_downloads_and_how_to_leave_it_out() -> None:
    # The second command of the README runs the acceptance suite too, which builds its
    # environments on first use: the README names them, where they are cached, and the
    # command without them - which must then collect nothing from tests/acceptance.
    prose = " ".join(README.split())
    from acceptance import envs  # noqa: PLC0415 - the suite's own module, read for its facts

    versions = sorted(
        (name.removeprefix("airflow-") for name in envs.names() if "airflow-" in name),
        key=lambda version: tuple(map(int, version.split("."))),
    )
    assert len(envs.names()) == 8 and "builds eight virtual environments" in prose
    assert f"(Airflow {', '.join(versions[:-1])} and {versions[-1]}, the AWS CLI, moto)" in prose
    assert "about 2.4 GB, cached in `~/.cache/airflow-sidecars-ci/acceptance`" in prose
    default = Path("~/.cache/airflow-sidecars-ci/acceptance").expanduser()
    assert "AIRFLOW_SIDECARS_CACHE" in os.environ or default == envs.CACHE_ROOT
    assert '```sh\npython3 -m pytest -q -m "not acceptance"\n```' in README
    collected = subprocess.run(
        [*PYTEST, "--collect-only", "-m", "not acceptance", "tests/acceptance"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert "no tests collected" in collected.stdout, collected.stdout[-2000:]


def test_the_readmes_first_example_passes_the_validator() -> None:
    # The README's first command, then validate with the same config, as the README shows:
    # the seed's sidecars fixed, nothing for the project's own validator to say.
    first = README.split("```sh\n", 1)[1].splitlines()[0]
    command = shlex.split(first.split(" && ", 1)[1])
    assert command[:2] == ["airflow-sidecars", "inject"]
    injected = run_cli(*command[1:])
    assert injected.returncode == 0, injected.stderr
    config = command[command.index("--config") + 1]
    checked = run_cli("validate", "--strict", "--config", config, stdin=injected.stdout)
    shown = re.search(
        r"\n\$ airflow-sidecars inject (.*?) 2>/dev/null \| airflow-sidecars validate --strict "
        r"--config (\S+) > /dev/null\n(validate: .*?)\n```",
        README,
    )
    assert shown is not None and shown.group(2) == config
    assert shown.group(1).split() == command[2:]
    assert (checked.returncode, checked.stderr) == (0, shown.group(3) + "\n")
    assert checked.stderr.endswith("; 0 errors, 0 warnings, 0 info\n")
