"""The README's examples that a reader pastes: run as written, they give what the README says."""

from __future__ import annotations

import re

from conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()


def test_the_pasteable_resource_list_gives_the_answer_shown() -> None:
    section = README.split("### KRM mode by hand", 1)[1].split("\n### ", 1)[0]
    heredoc = re.search(r"```sh\nairflow-sidecars inject <<'EOF'\n(.*?)EOF\n```", section, re.S)
    answer = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert heredoc is not None and answer is not None
    completed = run_cli("inject", stdin=heredoc.group(1).encode())
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.decode() == answer.group(1)
