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
