"""The cluster set-up shipped in deploy/: valid objects, exact RBAC, a file that cannot go stale."""

from __future__ import annotations

import re
import shlex
from importlib.metadata import entry_points, requires
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes.utils.quantity import parse_quantity

from nagelfluh_lab.cluster import cli, manifests
from nagelfluh_lab.cluster.setup import cluster_manifests
from nagelfluh_lab.executors.base import RunKey, RunSpec
from tests.kubernetes.conftest import INSTALLATION

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PYPROJECT = ROOT / "pyproject.toml"
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())
KUEUE_API = "kueue.x-k8s.io/v1beta1"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def minio_manifests() -> list[dict]:
    return [
        doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes/minio.yaml").read_text()) if doc
    ]


def run_job(**options: object) -> dict:
    spec = RunSpec(RunKey(1, 1), 1, "sleep", {}, {}, 1.0, 2**30, 60, "s3://nagelfluh")
    return manifests.job_manifest(spec, secret_name="s", installation=INSTALLATION, **options)


def cli_output(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    cli.main(argv)
    return capsys.readouterr().out


# ------------------------------------------------------------------- schemas


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_builtin_objects_of_the_setup_pass_strict_schema_validation(version):
    builtin = [m for m in cluster_manifests() + minio_manifests() if m["apiVersion"] != KUEUE_API]
    kinds = sorted(m["kind"] for m in builtin)
    assert kinds == sorted(
        [
            *("Namespace", "ServiceAccount", "ServiceAccount", "Role", "RoleBinding"),
            *("Secret", "Deployment", "Service", "Job"),
        ]
    )
    for manifest in builtin:
        kubernetes_validate.validate(manifest, version, strict=True)


def kueue_errors(objects: list[dict]) -> list[str]:
    """What Kueue v1beta1's CRDs would refuse, or what would leave a queue unusable.

    kubernetes-validate has no CRD schemas, so this checks the fields Kueue requires:
    ResourceFlavor and ClusterQueue are cluster-scoped; a ClusterQueue's resource
    groups cover resources and give every flavor a nominalQuota per covered resource,
    in the same order; a LocalQueue names an existing ClusterQueue.
    """
    errors = []
    kueue = [o for o in objects if o["apiVersion"] == KUEUE_API]
    names = {
        kind: {o["metadata"]["name"] for o in kueue if o["kind"] == kind}
        for kind in ("ResourceFlavor", "ClusterQueue")
    }
    for obj in kueue:
        where = f"{obj['kind']}/{obj['metadata'].get('name')}"
        if not DNS_LABEL.match(obj["metadata"].get("name", "")):
            errors.append(f"{where}: metadata.name is not a DNS-1123 label")
        scoped = obj["kind"] == "LocalQueue"
        if scoped != ("namespace" in obj["metadata"]):
            errors.append(f"{where}: {'needs' if scoped else 'takes no'} namespace")
        spec = obj.get("spec", {})
        if obj["kind"] == "ClusterQueue":
            if spec.get("queueingStrategy") not in (None, "StrictFIFO", "BestEffortFIFO"):
                errors.append(f"{where}: unknown queueingStrategy")
            groups = spec.get("resourceGroups") or []
            if not groups:
                errors.append(f"{where}: no resourceGroups")
            for group in groups:
                covered = group.get("coveredResources") or []
                if not covered:
                    errors.append(f"{where}: a resource group covers no resources")
                for flavor in group.get("flavors") or [None]:
                    if flavor is None or flavor.get("name") not in names["ResourceFlavor"]:
                        errors.append(f"{where}: a flavor names no ResourceFlavor of the set")
                        continue
                    resources = flavor.get("resources") or []
                    if [r.get("name") for r in resources] != covered:
                        errors.append(f"{where}: flavor resources differ from coveredResources")
                    for resource in resources:
                        try:
                            parse_quantity(resource["nominalQuota"])
                        except (KeyError, ValueError):
                            errors.append(f"{where}: {resource.get('name')} lacks a nominalQuota")
        elif obj["kind"] == "LocalQueue":
            if spec.get("clusterQueue") not in names["ClusterQueue"]:
                errors.append(f"{where}: spec.clusterQueue names no ClusterQueue of the set")
        elif obj["kind"] != "ResourceFlavor":
            errors.append(f"{where}: not a Kueue kind this set-up uses")
    return errors


def test_kueue_objects_have_what_kueue_v1beta1_requires():
    objects = cluster_manifests()
    assert {o["kind"] for o in objects if o["apiVersion"] == KUEUE_API} == {
        "ResourceFlavor",
        "ClusterQueue",
        "LocalQueue",
    }
    assert kueue_errors(objects) == []


def test_kueue_check_catches_a_quota_without_nominal_quota_and_a_dangling_local_queue():
    objects = cluster_manifests()
    queue = next(o for o in objects if o["kind"] == "ClusterQueue")
    del queue["spec"]["resourceGroups"][0]["flavors"][0]["resources"][1]["nominalQuota"]
    local = next(o for o in objects if o["kind"] == "LocalQueue")
    local["spec"]["clusterQueue"] = "elsewhere"
    assert kueue_errors(objects) == [
        "ClusterQueue/nagelfluh-cluster-queue: memory lacks a nominalQuota",
        "LocalQueue/nagelfluh-queue: spec.clusterQueue names no ClusterQueue of the set",
    ]


def test_cluster_queue_covers_cpu_and_memory_with_the_given_quotas_for_every_namespace():
    queue = next(
        o for o in cluster_manifests(cpu="64", memory="256Gi") if o["kind"] == "ClusterQueue"
    )
    assert queue["spec"]["namespaceSelector"] == {}
    assert queue["spec"]["queueingStrategy"] == "BestEffortFIFO"
    [group] = queue["spec"]["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory"]
    assert group["flavors"] == [
        {
            "name": "default-flavor",
            "resources": [
                {"name": "cpu", "nominalQuota": "64"},
                {"name": "memory", "nominalQuota": "256Gi"},
            ],
        }
    ]


def test_run_jobs_land_in_the_local_queue_and_namespace_the_setup_makes():
    objects = cluster_manifests(namespace="science")
    local = next(o for o in objects if o["kind"] == "LocalQueue")
    job = run_job(namespace="science")
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == local["metadata"]["name"]
    assert job["metadata"]["namespace"] == local["metadata"]["namespace"] == "science"
    assert {o["metadata"].get("namespace", "science") for o in objects} == {"science"}


# ---------------------------------------------------------------------- RBAC


def test_server_role_grants_exactly_what_the_executor_needs():
    objects = cluster_manifests()
    [role] = [o for o in objects if o["kind"] == "Role"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    wanted = (
        {("batch", "jobs", verb) for verb in ("create", "get", "list", "watch", "delete")}
        | {("", "pods", verb) for verb in ("get", "list", "watch")}
        | {("", "pods/log", "get")}
        | {("", "secrets", verb) for verb in ("create", "get", "delete")}
        | {("kueue.x-k8s.io", "workloads", verb) for verb in ("get", "list", "watch")}
    )
    assert granted == wanted
    assert all(set(rule) == {"apiGroups", "resources", "verbs"} for rule in role["rules"])


def test_only_the_server_account_is_bound_and_the_runner_account_gets_no_token():
    objects = cluster_manifests()
    [binding] = [o for o in objects if o["kind"] == "RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "nagelfluh-server",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "nagelfluh-server", "namespace": "nagelfluh-jobs"}
    ]
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    assert set(accounts) == {"nagelfluh-server", "nagelfluh-runner"}
    assert accounts["nagelfluh-runner"]["automountServiceAccountToken"] is False
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def restricted_violations(pod: dict) -> list[str]:
    """Where a pod spec breaks the "restricted" Pod Security Standard (the parts we can break)."""
    errors = []
    pod_context = pod.get("securityContext", {})
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container.get("securityContext", {})
        name = container["name"]
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            errors.append(f"{name}: runAsNonRoot is not true")
        if 0 in (context.get("runAsUser"), pod_context.get("runAsUser")):
            errors.append(f"{name}: runs as uid 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            errors.append(f"{name}: no RuntimeDefault seccomp profile")
        if context.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{name}: allowPrivilegeEscalation is not false")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            errors.append(f"{name}: does not drop ALL capabilities")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            errors.append(f"{name}: adds capabilities")
        if context.get("privileged"):
            errors.append(f"{name}: privileged")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if kinds - {"emptyDir", "configMap", "secret", "persistentVolumeClaim", "projected"}:
            errors.append(f"volume {volume['name']}: {kinds} is not allowed")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        errors.append("shares a host namespace")
    return errors


def test_every_pod_meets_the_restricted_standard_the_namespace_enforces():
    [namespace] = [o for o in cluster_manifests() if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"] == {"pod-security.kubernetes.io/enforce": "restricted"}
    schema_job = manifests.schema_job_manifest(
        "schema-geo-0", "geo", "geo:1", deadline_seconds=600, installation=INSTALLATION,
        service_account="nagelfluh-runner"
    )
    templates = [run_job()["spec"]["template"], schema_job["spec"]["template"]] + [
        o["spec"]["template"] for o in minio_manifests() if o["kind"] in ("Deployment", "Job")
    ]
    assert len(templates) == 4
    for template in templates:
        assert restricted_violations(template["spec"]) == []


def test_restricted_check_catches_a_root_pod():
    pod = run_job()["spec"]["template"]["spec"]
    pod["securityContext"]["runAsUser"] = 0
    del pod["containers"][0]["securityContext"]["capabilities"]
    assert restricted_violations(pod) == [
        "runner: runs as uid 0",
        "runner: does not drop ALL capabilities",
    ]


# ----------------------------------------------------------------------- CLI


def test_committed_setup_file_is_what_the_command_prints(capsys):
    printed = cli_output(["k8s", "manifests"], capsys)
    assert (DEPLOY / "kubernetes/nagelfluh.yaml").read_text() == printed, (
        "regenerate: nagelfluh-lab k8s manifests > deploy/kubernetes/nagelfluh.yaml"
    )
    assert list(yaml.safe_load_all(printed)) == cluster_manifests()


def test_command_options_set_the_quotas_and_the_namespace(capsys):
    argv = ["k8s", "manifests", "--cpu", "500m", "--memory", "64Gi", "--namespace", "science"]
    printed = list(yaml.safe_load_all(cli_output(argv, capsys)))
    assert printed == cluster_manifests(cpu="500m", memory="64Gi", namespace="science")


@pytest.mark.parametrize("argv", [["--cpu", "lots"], ["--memory", "-1Gi"], ["--cpu", "0"]])
def test_command_refuses_a_quota_that_is_no_positive_quantity(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["k8s", "manifests", *argv])
    assert exit_info.value.code == 2
    assert "argument" in capsys.readouterr().err


def test_console_script_nagelfluh_lab_is_the_cli():
    # An install made before the CLI moved names its old path, which still leads here.
    [script] = entry_points(group="console_scripts", name="nagelfluh-lab")
    assert script.load() is cli.main
    scripts = re.search(r"^\[project\.scripts\]\n(.*?)\n\n", PYPROJECT.read_text(), re.M | re.S)
    assert scripts and scripts[1] == f'nagelfluh-lab = "{cli.__name__}:main"'


# ---------------------------------------------------------------- Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile.runner, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile.runner").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def test_runner_image_runs_as_the_uid_the_job_expects_after_every_install_step():
    steps = dockerfile()
    users = [i for i, (op, _) in enumerate(steps) if op == "USER"]
    runs = [i for i, (op, _) in enumerate(steps) if op == "RUN"]
    assert users and steps[users[-1]][1] == str(manifests.RUNNER_UID)
    assert max(runs) < users[-1]
    assert ("WORKDIR", manifests.SCRATCH) in steps
    context = run_job()["spec"]["template"]["spec"]["securityContext"]
    assert context["runAsUser"] == manifests.RUNNER_UID


def test_runner_image_installs_only_the_runner_from_paths_that_exist():
    steps = dockerfile()
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim", steps[0][1])
    copies = [shlex.split(args) for op, args in steps if op in ("COPY", "ADD")]
    # The runner, and the one file its version is read from (../labextension/package.json).
    assert copies == [
        ["runner/", "/tmp/nagelfluh/runner/"],
        ["labextension/package.json", "/tmp/nagelfluh/labextension/package.json"],
    ]
    for *sources, _ in copies:
        assert all((ROOT / source).exists() for source in sources)
    installs = [args for op, args in steps if op == "RUN" and "pip install" in args]
    assert len(installs) == 1
    runner = "/tmp/nagelfluh/runner[s3,data,notebooks]"
    assert shlex.split(installs[0])[:3] == ["pip", "install", runner]
    # No Jupyter server nor Lab: [notebooks] brings only a kernel and its client (nbclient).
    assert not [args for _, args in steps if "jupyter" in args.lower()]
    # What `pip install runner[s3]` brings, from the installed runner's metadata.
    requirements = requires("nagelfluh-runner")
    assert requirements and not [r for r in requirements if "jupyter" in r or "nagelfluh" in r]
    # BuildKit's per-Dockerfile ignore file keeps the context to the runner.
    ignore = (DEPLOY / "Dockerfile.runner.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and line[0] != "#"]
    assert patterns[0] == "*" and "!runner/" in patterns
    assert "!labextension/package.json" in patterns


def test_runner_image_default_command_is_the_jobs_command():
    cmd = [args for op, args in dockerfile() if op == "CMD"]
    assert [yaml.safe_load(args) for args in cmd] == [manifests.COMMAND]
    assert run_job()["spec"]["template"]["spec"]["containers"][0]["command"] == manifests.COMMAND
