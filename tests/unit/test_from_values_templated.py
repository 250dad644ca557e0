"""`from-values` on values with `{{ }}` in them: what the chart's `tpl` would make
of a `.Values` reference is evaluated from the values; what inject evaluates (`.Release.*`,
`.Chart.*`, the fullname) goes into the config as written; anything else keeps its value in
the values (and in the stripped values), with a warning naming the field. Whatever goes into
the config is one that inject takes.

The chart renders its extra lists as `tpl (toYaml .Values.<section>.<value>) .`, which the
matrix pair official-1.22.0/21 shows with `{{ .Release.Name }}` (`name: 'airflow-extra'`). The
render-equality test takes that pair's values, puts a `.Values` reference into the templated
name, and sets the referenced value to what the chart already sees (`executor`, the chart's
default, shown by the render's `executor` label), so the values render as the pair's `b` with
the reference's text in the name: the one place `tpl` writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_oracle_matrix import _documents, _identity

from airflow_sidecars.commands.valuesextras import config_spec, config_text
from airflow_sidecars.commands.valuesstrip import stripped
from airflow_sidecars.commands.valuetemplates import go_float
from airflow_sidecars.configuration.config import load
from airflow_sidecars.runs.api import ConfigSource, run_inject
from conftest import matrix_root, run_cli

PAIR = matrix_root() / "official-1.22.0"
TEMPLATED_NAME = "      name: '{{ .Release.Name }}-extra'\n"


def _templated_pair_values() -> str:
    after = (PAIR / "21b-templated-extras.values.yaml").read_text()
    assert after.count(TEMPLATED_NAME) == 1
    assert "\nexecutor:" not in after and 'executor: "CeleryExecutor"' in _render("21a", ".yaml")
    with_reference = "      name: '{{ .Release.Name }}-{{ .Values.executor }}'\n"
    return after.replace(TEMPLATED_NAME, with_reference) + "executor: CeleryExecutor\n"


def _render(name: str, suffix: str) -> str:
    return (PAIR / f"{name}-templated-extras{suffix}").read_text()


def test_a_values_reference_is_evaluated_and_inject_gives_what_the_chart_renders(
    tmp_path: Path,
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(_templated_pair_values())
    out = tmp_path / "values.stripped.yaml"
    completed = run_cli("from-values", values, "--strip", out)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == (
        "from-values: workers.extraVolumes[0].configMap.name: {{ .Values.executor }} is "
        "evaluated from these values, as the official chart's tpl does (the config keeps the "
        "result: it does not follow later changes to executor)\n"
    )
    spec = yaml.safe_load(completed.stdout)["spec"]
    volume = spec["workers"]["extraVolumes"][0]
    assert volume["configMap"]["name"] == "{{ .Release.Name }}-CeleryExecutor"  # inject's part
    before_values = yaml.safe_load((PAIR / "21a-templated-extras.values.yaml").read_text())
    assert yaml.safe_load(out.read_text()) == {**before_values, "executor": "CeleryExecutor"}

    config = tmp_path / "config.yaml"
    config.write_bytes(completed.stdout)
    config_source = ConfigSource(str(config), config.read_bytes())
    for suffix in (".yaml", ".hooks.yaml"):
        # the chart's render of these values: the pair's `b`, with `tpl`'s text in the name
        charts = _render("21b", suffix).replace("'airflow-extra'", "'airflow-CeleryExecutor'")
        source = _render("21a", suffix).encode()
        result = run_inject([(f"21a{suffix}", source)], config_source)
        assert result.exit_code == 0, result.results
        ours, wanted = _documents(result.output), _documents(charts)
        assert [_identity(d) for d in ours] == [_identity(d) for d in wanted]
        assert ours == wanted


ISSUE_VALUES = """\
dags:
  gitSync:
    sshKeySecret: airflow-ssh-secret   # set elsewhere in the values
scheduler:
  extraVolumes:
    - name: git-ssh
      secret:
        secretName: '{{ .Values.dags.gitSync.sshKeySecret }}'
  extraVolumeMounts:
    - name: git-ssh
      mountPath: /etc/{{ .Release.Name }}/ssh
triggerer:
  extraVolumes:
    - name: config-copy
      configMap:
        name: '{{ include "airflow_config" . }}'
"""


def test_the_issue_values_evaluated_passed_on_and_kept(tmp_path: Path) -> None:
    spec, left_out = config_spec(yaml.safe_load(ISSUE_VALUES))
    assert not left_out
    assert spec == {
        "scheduler": {
            "extraVolumes": [{"name": "git-ssh", "secret": {"secretName": "airflow-ssh-secret"}}],
            # what inject evaluates goes in as written
            "extraVolumeMounts": [{"name": "git-ssh", "mountPath": "/etc/{{ .Release.Name }}/ssh"}],
        }
    }
    # the expression no one evaluates stays in the values, and in the stripped values
    assert stripped(ISSUE_VALUES, "values.yaml") == (
        "dags:\n"
        "  gitSync:\n"
        "    sshKeySecret: airflow-ssh-secret   # set elsewhere in the values\n"
        "triggerer:\n"
        "  extraVolumes:\n"
        "    - name: config-copy\n"
        "      configMap:\n"
        "        name: '{{ include \"airflow_config\" . }}'\n"
    )
    values = tmp_path / "values.yaml"
    values.write_text(ISSUE_VALUES)
    completed = run_cli("from-values", values)
    assert completed.returncode == 0
    assert completed.stderr.splitlines()[-1] == (
        "from-values: warning: triggerer.extraVolumes[0].configMap.name: "
        '{{ include "airflow_config" . }} is neither a `.Values` reference, which from-values '
        "evaluates, nor one of the expressions inject evaluates; triggerer.extraVolumes is not "
        "carried over: it stays in the values"
    )
    assert yaml.safe_load(completed.stdout)["spec"] == spec

    # inject takes the config, and evaluates {{ .Release.Name }} from the render
    config = tmp_path / "config.yaml"
    config.write_bytes(completed.stdout)
    source = (PAIR / "21a-templated-extras.yaml").read_bytes()
    result = run_inject([("21a.yaml", source)], ConfigSource(str(config), config.read_bytes()))
    assert result.exit_code == 0, result.results
    scheduler = next(
        d
        for d in yaml.safe_load_all(result.output)
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "airflow-scheduler"
    )
    pod = scheduler["spec"]["template"]["spec"]
    assert {"name": "git-ssh", "secret": {"secretName": "airflow-ssh-secret"}} in pod["volumes"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert {"name": "git-ssh", "mountPath": "/etc/airflow/ssh"} in mounts


SET = {
    "dags": {"gitSync": {"sshKeySecret": "ssh", "wait": 60, "enabled": False}},
    "big": 1000000,
    "ratio": 0.25,
    "nothing": None,
    "quoted": "it's",
    "plain": "y",
    "braces": "{{ .Release.Name }}",
    "workers": {"replicas": 2},
}
EVALUATED: dict[str, tuple[str, str]] = {
    "a string": ("'{{ .Values.dags.gitSync.sshKeySecret }}'", "ssh"),
    "$ as the root": ("'{{ $.Values.dags.gitSync.sshKeySecret }}'", "ssh"),
    "no spaces": ("'{{.Values.dags.gitSync.sshKeySecret}}'", "ssh"),
    "inside text": ("pre-{{ .Values.dags.gitSync.sshKeySecret }}-post", "pre-ssh-post"),
    "beside inject's own": (
        "'{{ .Release.Name }}-{{ .Values.dags.gitSync.sshKeySecret }}'",
        "{{ .Release.Name }}-ssh",
    ),
    "a number, as Go prints a float64": ("'{{ .Values.dags.gitSync.wait }}s'", "60s"),
    "a large number": ("'x{{ .Values.big }}'", "x1e+06"),
    "a fraction": ("'x{{ .Values.ratio }}'", "x0.25"),
    "a boolean": ("'x-{{ .Values.dags.gitSync.enabled }}'", "x-false"),
    "trimming inside quotes": ("'a {{- .Values.dags.gitSync.sshKeySecret -}} b'", "asshb"),
    "trimming beside a quote": ("'{{- .Values.dags.gitSync.sshKeySecret -}}'", "ssh"),
    "a quote in the text around it": (
        '"it\'s {{ .Values.dags.gitSync.sshKeySecret }}"',
        "it's ssh",
    ),
}
KEPT: dict[str, tuple[str, str, str]] = {
    # name: (values of scheduler.extraVolumes[0].x, or a whole `where: text`), why (a part)
    "a key the values do not set": (
        "scheduler",
        "'{{ .Values.images.airflow.tag }}'",
        "these values do not set images.airflow.tag",
    ),
    "null": ("scheduler", "'{{ .Values.nothing }}'", "nothing is null"),
    "a mapping": ("scheduler", "'{{ .Values.dags.gitSync }}'", "dags.gitSync is a mapping"),
    "a worker value": ("scheduler", "'{{ .Values.workers.replicas }}'", "worker set's merged"),
    "a string Go reads as a boolean": ("scheduler", "'{{ .Values.plain }}'", "a plain y"),
    "a value with braces of its own": ("scheduler", "'{{ .Values.braces }}'", "of its own"),
    "a quote inside single quotes": (
        "scheduler",
        "'x-{{ .Values.quoted }}'",
        "would not read back",
    ),
    "a result that reads as a number": ("scheduler", "1{{ .Values.big }}", "would not read back"),
    "a trimming marker that takes the line break": (
        "scheduler",
        "pre-{{ .Values.dags.gitSync.sshKeySecret -}}",
        "would not read back",
    ),
    "a pipeline": ("scheduler", "'{{ .Values.quoted | quote }}'", "neither a `.Values`"),
    "an unclosed action": ("scheduler", "'{{ .Release.Name'", "unclosed"),
    "a lone }}": ("scheduler", "'x }}'", "unclosed"),
    "the top-level volumes": ("", "'{{ .Values.dags.gitSync.sshKeySecret }}'", "does not"),
    "the community chart's words": ("web", "'{{ .Values.big }}'", "community chart's words"),
    "airflow.extraVolumes (community only)": (
        "airflow",
        "'{{ .Values.big }}'",
        "the community chart, the only one with it,",
    ),
}


def _volume_values(section: str, text: str) -> str:
    volume = f"  - name: v\n    secret:\n      secretName: {text}\n"
    if not section:
        return f"volumes:\n{volume}"
    return f"{section}:\n  extraVolumes:\n{volume}"


def _said(text: str, tmp_path: Path) -> tuple[dict[str, Any], str, str]:
    values = tmp_path / "values.yaml"
    values.write_text(text + yaml.safe_dump(SET))
    out = tmp_path / "stripped.yaml"
    completed = run_cli("from-values", values, "--strip", out)
    assert completed.returncode == 0, completed.stderr
    spec = yaml.safe_load(completed.stdout)["spec"]
    load(yaml.safe_load(config_text(spec, "t")))  # inject's config check takes it
    return spec, completed.stderr, out.read_text()


@pytest.mark.parametrize("case", EVALUATED)
def test_what_is_evaluated(case: str, tmp_path: Path) -> None:
    text, wanted = EVALUATED[case]
    spec, said, stripped_text = _said(_volume_values("scheduler", text), tmp_path)
    assert spec["scheduler"]["extraVolumes"][0]["secret"]["secretName"] == wanted
    assert said.startswith("from-values: scheduler.extraVolumes[0].secret.secretName: {{")
    assert "warning" not in said
    assert "extraVolumes" not in stripped_text


@pytest.mark.parametrize("case", KEPT)
def test_what_stays_in_the_values(case: str, tmp_path: Path) -> None:
    section, text, why = KEPT[case]
    values = _volume_values(section, text)
    spec, said, stripped_text = _said(values, tmp_path)
    assert spec == {}
    where = f"{section}.extraVolumes" if section else "volumes"
    assert said.startswith(f"from-values: warning: {where}[0].secret.secretName: "), said
    assert why in said
    assert said.endswith(f"; {where} is not carried over: it stays in the values\n")
    assert yaml.safe_load(stripped_text) == yaml.safe_load(values + yaml.safe_dump(SET))


def test_a_value_stays_whole_and_the_others_go() -> None:
    values = yaml.safe_load(
        "scheduler:\n"
        "  extraVolumes:\n"
        "    - {name: a, secret: {secretName: '{{ .Values.x }}'}}\n"
        "    - {name: b, secret: {secretName: '{{ .Values.missing }}'}}\n"
        "  extraVolumeMounts: [{name: a, mountPath: '/{{ .Values.x }}'}]\n"
        "x: one\n"
    )
    spec, _ = config_spec(values)
    assert spec == {"scheduler": {"extraVolumeMounts": [{"name": "a", "mountPath": "/one"}]}}


@pytest.mark.parametrize(
    ("number", "printed"),
    [
        (8080, "8080"),
        (999999, "999999"),
        (1000000, "1e+06"),
        (1234567, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5, "1.5"),
        (-3, "-3"),
        (123456.7, "123456.7"),
        (608863452348.1149, "6.088634523481149e+11"),
        (1e100, "1e+100"),
        (-0.0, "-0"),
    ],
)
def test_numbers_print_as_go_prints_a_float64(number: float, printed: str) -> None:
    assert go_float(float(number)) == printed
