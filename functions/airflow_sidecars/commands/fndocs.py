"""The functions' documentation as `--help` prints it: the Short, Long and Examples
sections of functions/inject/README.md and functions/validate/README.md.

Generated from the READMEs by tests/unit/test_helptext.py (UPDATE_GOLDEN=1 rewrites it):
edit them, not this file."""

# ruff: noqa: E501

SHORT = {
    "inject": r"""Add sidecars, init containers, volumes and mounts to the Airflow pods of rendered Apache
Airflow Helm manifests.""",
    "validate": r"""Check the Airflow pods of rendered Apache Airflow Helm manifests for what copy-pasted
sidecars get wrong, changing nothing.""",
}

LONG = {
    "inject": r"""A KRM mutator. It finds the Airflow workloads of a render by the chart's labels - the
scheduler, webserver or api-server, Celery workers and the KubernetesExecutor pod template,
triggerer, dag-processor, flower, pgbouncer and the chart's Jobs, of the official chart
1.15-1.22 (Airflow 2 and 3) or the community chart 8.8-8.9 - and adds what its config
declares, where the chart itself would have put it. Objects it does not edit come back as the
bytes they came in as, and a second run changes nothing.

Usage:

  airflow-sidecars inject [--config FILE] [--strict] [-o FILE | -i]
                          [--lock-timeout SECONDS] [--diff] [--quiet]
                          [--report FILE] [--terminal] [--helm-plugin]
                          [FILE|DIR ...]
  airflow-sidecars inject --plan [-o table|json] [--config FILE] [--strict]
                          [--quiet] [FILE|DIR ...]

The image `localhost/airflow-sidecars:0.1.0` has that command as its entrypoint, so its
arguments are the command's. It runs as uid 65534, with no network and a read-only root
filesystem. The inputs are files, folders (read as `kubectl -f DIR -R` reads them: `*.yaml`,
`*.yml`, `*.json`, in name order) or stdin. `-o FILE` writes the output to a file, `-i`
(`--in-place`) writes each input file back (only those that changed; the folders are locked
for the run, and a run that finds a file changed since it read it writes nothing, exit 1;
`--lock-timeout` is how long it waits for another run's lock, default 60 s), `--diff` prints a diff
of each changed object instead, and `--quiet` leaves out the info lines. `--plan` prints,
instead of the manifests, what inject would add per release and workload (containers with
their role, init containers, volumes, mounts, env, annotations, ServiceAccount annotations) and
its findings (what reached nothing, and why): a table, the same text on a terminal and in a
pipe, or with `-o json` one JSON document (the repository README shows its shape). It lists
the edits inject makes, so it cannot disagree with inject's output; its exit code is
inject's.

- KRM mode: a ResourceList (YAML or JSON; `config.kubernetes.io/v1`, `v1beta1` or `v1alpha1`)
  on stdin or in the FILEs, as kpt and kustomize send it. Every item comes back in order, and
  the results follow those of earlier steps.
- Stream mode: anything else, such as `helm template` output (a Helm post-renderer, a CI
  pipe). `--config` is required, and the output is a stream again.

Exit 0 on success, warnings allowed. Exit 1 when any result is an error: then nothing is
applied, and the output is the input as it came (in KRM mode a ResourceList carrying the
errors). Exit 2 for command-line misuse: among it no config at all (no `--config`, no
functionConfig; the output is still the input as it came), and a config given as the input
instead of with `--config` (nothing on stdout). A stream without objects (empty stdin, files
of comments only) is an error, said once; an empty ResourceList (kpt on an empty package) is
nothing to do, an info result. stdout carries only the output; stderr has a line per result,
errors first, then warnings, then info, with its rule (`tags.rule` in the ResourceList's
results, which come in the same order), and a last line that counts the objects read, the
releases, the workloads changed and unchanged, and the findings.

For callers that do not show stderr (Helm 4 never prints its plugin's stderr; kustomize drops a
legacy plugin's on success), `--terminal` also writes those lines to the controlling terminal
(unless stderr already is it), and `--report FILE` (or `$AIRFLOW_SIDECARS_REPORT`) to a file:
the runs under one parent process add to it, a new caller's run replaces it. `--helm-plugin`
is for the Helm 4 plugin script: with Helm's post-render strategy `separate` (two calls, the
hooks first) the second call sets the ServiceAccount annotations the hooks' pods need and does
not count the hook Jobs' sections as missing.

FunctionConfig:

An `AirflowSidecars` object, apiVersion `airflow-sidecars.dev/v1alpha1`. It is `--config
FILE` when given, else the ResourceList's `functionConfig`: the object itself (a Kptfile
step's `configPath:`, `kpt fn eval --fn-config`, a kustomize transformer's own config), or a
ConfigMap whose `data.config` holds it or just its spec (a Kptfile step's `configMap:`).
inject needs one. `airflow-sidecars schema` prints its JSON Schema; unknown fields are errors,
and every problem is reported at once.

A minimal config, one sidecar beside the scheduler:

  apiVersion: airflow-sidecars.dev/v1alpha1
  kind: AirflowSidecars
  metadata:
    name: team-sidecars
  spec:
    scheduler:
      extraContainers:
        - name: heartbeat
          image: busybox:1.36
          args: [sh, -c, "while true; do date; sleep 60; done"]
          resources:
            requests: {cpu: 10m, memory: 16Mi}

The sections take the chart's own `extraContainers`, `extraInitContainers`, `extraVolumes`
and `extraVolumeMounts` values at the chart's own nesting, and they mean what they mean to
the chart version that rendered the manifests: `scheduler`, `webserver`, `apiServer`,
`workers` (with `celery`, `celery.sets` and `kubernetes`), `triggerer`, `dagProcessor`,
`flower`, `pgbouncer`, `createUserJob`, `migrateDatabaseJob`, the top-level `volumes` and
`volumeMounts`, and the community chart's `web` and `airflow` (the project's README has every
key, chart by chart). `presets` (`cloudSqlProxy`, `kerberos`, `otelCollector`, `s3Sync`,
`syncPerm`) add ready-made sidecars that fill themselves in from the release;
`cloudSqlProxy` goes into every pod that opens the metadata database connection, as a native
sidecar that starts first.
`match` picks releases, namespaces or labels; `onConflict: replace` replaces a same-named
container or volume that differs instead of failing; `strict: true` is `--strict`.""",
    "validate": r"""A KRM validator. It hands every item back as it came (a stream byte for byte) and reports
what it finds. Without a config, its built-in checks run on every Airflow pod, the
KubernetesExecutor pod template included; each result names its rule:

- errors: `missing-volume` (a mount of a volume the pod does not define),
  `duplicate-container` (two containers of a pod with one name), `base-not-first` (a container
  before `base` in the pod template), `literal-secret` (a literal secret in `env`: the
  variable is named, its value never repeated), `proxy-twice` (two database proxies in one
  pod), `proxy-order` (a native database proxy after an init container that needs the
  database), `proxy-missing` (a pod that connects to the database itself without a proxy, in
  a release whose other pods use one), `bad-quantity` (a container's `resources` the API
  server refuses: `cpu: true`, `5 GiB`, a negative value, a request above its limit);
- warnings: `keytab-exposed` (the Kerberos keytab in a container other than the ticket
  renewer), `unpinned-image` (a sidecar image with no tag, or `:latest`);
- info: `no-requests` (a sidecar without resource requests);
- either: `plain-sidecar` (a plain sidecar in a Job or a task pod, which then never
  completes: an error; with the config, one its section allows with `allowPlainSidecars:
  true` is a warning that says so, as the config says it exits on its own), `plain-proxy` (a
  database proxy as a plain container: an error in a Job or a task pod, which never completes;
  a warning elsewhere, where Airflow may start before it listens).

With the config that inject used, everything it declares must be there too
(`declared-missing`), and what inject's records say it added and the config no longer
declares is an error (`no-longer-declared`).

Usage:

  airflow-sidecars validate [--config FILE] [--strict] [-o FILE]
                            [--diff] [--quiet] [FILE|DIR ...]

The image `localhost/airflow-sidecars-validate:0.1.0` has that command as its entrypoint, so
its arguments are the command's. It runs as uid 65534, with no network and a read-only root
filesystem.

The input is a ResourceList (KRM mode: as kpt and kustomize send it, YAML or JSON) or any
other manifest stream, on stdin or in the FILEs and folders. The output is the input, with the results
added in KRM mode. stderr has a line per finding, errors first, then warnings, then info (the
ResourceList's results come in the same order). Exit 0 when nothing is an error (warnings
allowed), 1 when anything is, 2 for command-line misuse, such as a config given as the input
instead of with `--config`. A stream without objects (empty stdin, files of comments only) is
an error, said once; an empty ResourceList (kpt on an empty package) is nothing to do, an info
result. Without a config, objects but no Airflow workload among them is a warning,
`no-workloads`, that says what validate looks for: nothing was checked. `--strict` makes it
an error, and every reach warning too: a section, value or preset of the config that matches
no workload.

FunctionConfig:

Optional: the `AirflowSidecars` object (apiVersion `airflow-sidecars.dev/v1alpha1`) that
inject uses. It is `--config FILE` when given, else the ResourceList's `functionConfig`: the
object itself (a Kptfile step's `configPath:`, `kpt fn eval --fn-config`), or a ConfigMap
whose `data.config` holds it or just its spec. Without one, or with kpt's empty placeholder
for a step without a config, the built-in checks run alone. `airflow-sidecars schema` prints
the config's JSON Schema.

`spec.validate.disable` turns rules off by name; `unsupported-yaml` and `malformed-pod` stay
on. A minimal config: the sidecar inject adds must be there, and no `no-requests` findings:

  apiVersion: airflow-sidecars.dev/v1alpha1
  kind: AirflowSidecars
  metadata:
    name: team-sidecars
  spec:
    scheduler:
      extraContainers:
        - name: heartbeat
          image: busybox:1.36
          args: [sh, -c, "while true; do date; sleep 60; done"]
    validate:
      disable: [no-requests]""",
}

EXAMPLES = {
    "inject": r"""A kpt package whose pipeline runs the image (`pipelines/kpt/airflow`; its Kptfile):

  pipeline:
    mutators:
      - image: localhost/airflow-sidecars:0.1.0
        configPath: sidecars.yaml

  kpt fn render pipelines/kpt/airflow

The same, run once on a package:

  kpt fn eval pipelines/kpt/airflow --image localhost/airflow-sidecars:0.1.0 \
    --fn-config pipelines/kpt/airflow/sidecars.yaml

What inject would add to a render, before applying it (`-o json` for a program):

  helm template airflow apache-airflow/airflow -f values.yaml |
    airflow-sidecars inject --plan --config sidecars.yaml

A chart's render, as a stream through the image, the config mounted into it:

  helm template airflow apache-airflow/airflow -f values.yaml |
    docker run --rm -i -v "$PWD/sidecars.yaml:/sidecars.yaml:ro" \
      localhost/airflow-sidecars:0.1.0 --config /sidecars.yaml > manifests.yaml""",
    "validate": r"""A kpt package whose pipeline validates after it injects (`pipelines/kpt/airflow-bad`, whose
render the validator refuses: literal AWS keys in a sidecar's `env`, exit 1, nothing written):

  pipeline:
    mutators:
      - image: localhost/airflow-sidecars:0.1.0
        configPath: sidecars.yaml
    validators:
      - image: localhost/airflow-sidecars-validate:0.1.0
        configPath: sidecars.yaml

  kpt fn render pipelines/kpt/airflow-bad

The built-in checks alone, on a package:

  kpt fn eval pipelines/kpt/airflow \
    --image localhost/airflow-sidecars-validate:0.1.0

A CI gate on a chart's render, with the config inject used:

  helm template airflow apache-airflow/airflow -f values.yaml |
    airflow-sidecars inject --config sidecars.yaml |
    airflow-sidecars validate --config sidecars.yaml > manifests.yaml""",
}
