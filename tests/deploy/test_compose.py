"""The deployment files, checked without Docker.

- `docker-compose.yml` validates against the Compose Specification's JSON
  schema (vendored, see README.md), before and after interpolation;
- every `DEALGRAPH_*` setting the app reads (`api.settings.Settings`) is
  documented in `.env.example` and reaches the containers (set in compose,
  or through the `.env` env_file with the code's default);
- the Dockerfile is slim, non-root, pins CPU torch as pyproject.toml does,
  and probes `/healthz`;
- where a compose CLI is installed, `config` accepts the file too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from api.settings import Settings

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
TEST_PASSWORD = "a-long-test-password"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $.
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose_text() -> str:
    return COMPOSE.read_text("utf-8")


def raw_compose() -> dict:
    return yaml.safe_load(compose_text())


def env_example() -> dict[str, str | None]:
    """Every variable .env.example mentions: its value, or None where the line is commented out."""
    out: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(\S*)", line)
        if match:
            out.setdefault(match.group(2), None if match.group(1) else match.group(3))
    return out


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, enough for this file."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":?", "?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and unset:
            return arg
        return value or ""

    return VARIABLE.sub(replace, text)


def dotenv(password: str = TEST_PASSWORD) -> dict[str, str]:
    """What a user's .env holds after following .env.example: its values, and a password."""
    values = {k: v for k, v in env_example().items() if v is not None}
    return {**values, "DEALGRAPH_NEO4J_PASSWORD": password}


def compose(env: dict[str, str] | None = None) -> dict:
    return yaml.safe_load(interpolate(compose_text(), dotenv() if env is None else env))


def settings_env_vars() -> dict[str, object]:
    """Every DEALGRAPH_* variable the app reads, with its default (a required field: ...)."""
    prefix = Settings.model_config["env_prefix"]
    return {f"{prefix}{name.upper()}": (... if field.is_required() else field.default)
            for name, field in Settings.model_fields.items()}


# ---- the Compose Specification


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((HERE / "compose-spec.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_compose_file_follows_the_compose_specification(validator):
    for name, document in (("as written", raw_compose()), ("interpolated", compose())):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, f"{name}: " + "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes(validator):
    broken = compose()
    broken["services"]["api"]["depends_on"]["neo4j"]["condition"] = "service_ready"
    broken["services"]["neo4j"]["healthcheck"]["retries"] = "twelve"
    broken["services"]["api"]["restart_policy"] = "always"
    messages = [e.message for e in validator.iter_errors(broken)]
    assert len(messages) >= 3, messages


def test_services_volumes_and_health():
    doc = compose()
    services = doc["services"]
    assert set(services) == {"neo4j", "api", "loader"}
    neo4j = services["neo4j"]
    assert re.fullmatch(r"neo4j:5(\.\d+)*(-community)?", neo4j["image"])
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"])
    assert neo4j["environment"]["NEO4J_AUTH"] == f"neo4j/{TEST_PASSWORD}"
    memory = {k: v for k, v in neo4j["environment"].items() if k.startswith("NEO4J_server_memory_")}
    assert set(memory) >= {"NEO4J_server_memory_heap_max__size", "NEO4J_server_memory_pagecache_size"}
    assert {v.split(":")[0] for v in neo4j["volumes"]} <= set(doc["volumes"])  # named volumes only
    assert "/data" in {v.split(":")[1] for v in neo4j["volumes"]}
    api = services["api"]
    assert api["depends_on"] == {"neo4j": {"condition": "service_healthy"}}
    assert any("/healthz" in part for part in api["healthcheck"]["test"])
    assert "build" in api and "profiles" not in api
    loader = services["loader"]
    assert loader["profiles"] == ["loader"] and loader["restart"] == "no"
    assert loader["depends_on"] == {"neo4j": {"condition": "service_healthy"}}
    script = loader["command"][0]
    assert script.index("dealgraph load") < script.index("dealgraph train") < script.index("dealgraph score")
    for service in services.values():  # published on the loopback interface only
        assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", []))


def test_the_neo4j_password_is_required():
    with pytest.raises(MissingVariable, match="DEALGRAPH_NEO4J_PASSWORD"):
        compose(dotenv(password=""))


# ---- settings: documented, and reaching the containers


def test_every_setting_is_documented_in_env_example():
    documented = env_example()
    missing = sorted(set(settings_env_vars()) - set(documented))
    assert not missing, f"add these to .env.example (and docs/neo4j.md if they matter there): {missing}"


def test_every_setting_reaches_the_app_containers():
    services = compose()["services"]
    for name in ("api", "loader"):
        service = services[name]
        assert service["env_file"] in (".env", [".env"]), name  # every documented setting can be set in .env
        environment = service["environment"]
        for var, default in settings_env_vars().items():
            assert var in environment or default is not ..., f"{name}: {var} has no default; set it in compose"
        # Values the code's defaults get wrong inside a container:
        assert environment["DEALGRAPH_STORE"] == "neo4j://neo4j:7687" and "neo4j" in services
        assert environment["DEALGRAPH_HOST"] == "0.0.0.0"
        assert environment["DEALGRAPH_NEO4J_USER"] == "neo4j"
        assert environment["DEALGRAPH_NEO4J_PASSWORD"] == TEST_PASSWORD
        assert environment["DEALGRAPH_HOME"] == "/data"


def test_compose_variables_are_documented_and_nothing_stale():
    used = {m.group("name") for m in VARIABLE.finditer(compose_text()) if m.group("name")}
    documented = env_example()
    assert used <= set(documented), f"document in .env.example: {sorted(used - set(documented))}"
    dealgraph = {v for v in documented if v.startswith("DEALGRAPH_")}
    stale = dealgraph - set(settings_env_vars()) - used
    assert not stale, f".env.example documents variables nothing reads: {sorted(stale)}"


def test_settings_documented_in_the_neo4j_guide():
    guide = (REPO / "docs" / "neo4j.md").read_text("utf-8")
    for var in ("DEALGRAPH_STORE", "DEALGRAPH_NEO4J_USER", "DEALGRAPH_NEO4J_PASSWORD",
                "DEALGRAPH_TEST_NEO4J_URI", "DEALGRAPH_TEST_NEO4J_USER", "DEALGRAPH_TEST_NEO4J_PASSWORD"):
        assert var in guide, var


# ---- the image


def dockerfile_stages() -> list[list[str]]:
    """Instructions (continuations joined, comments dropped) of each stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text("utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_slim_and_runs_as_a_user():
    text = DOCKERFILE.read_text("utf-8")
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base)
    final = dockerfile_stages()[-1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert not any(line.upper().startswith(("RUN PIP", "RUN APT")) for line in final), "build in the first stage"
    for keyword in ("CMD", "ENTRYPOINT"):  # exec form: signals reach the app, no shell in between
        [line] = [line for line in final if line.upper().startswith(keyword + " ")]
        json.loads(line[len(keyword):].strip())
    [health] = [line for line in final if line.upper().startswith("HEALTHCHECK ")]
    assert "/healthz" in health


def test_dockerfile_pins_cpu_torch_like_pyproject():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    [torch] = [d for d in pyproject["project"]["dependencies"] if re.match(r"torch\s*==", d)]
    version = torch.split("==")[1].strip()
    text = DOCKERFILE.read_text("utf-8")
    assert re.search(rf"^ARG TORCH_VERSION={re.escape(version)}$", text, re.MULTILINE)
    assert 'pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"' in text
    # ...and every package pyproject.toml ships is copied into the image.
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} {package}$", text, re.MULTILINE), package


def test_dockerignore_keeps_secrets_and_the_venv_out():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()}
    assert {".env", ".venv", ".git", "*.db"} <= ignored


# ---- a compose CLI, where one is installed


def compose_cli() -> list[str] | None:
    plugin = ["docker", "compose", "version"]
    if shutil.which("docker") and subprocess.run(plugin, capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(compose_cli() is None, reason="no compose CLI: `apt-get install docker-compose` "
                                                  "(or the docker compose plugin) runs this check")
def test_compose_cli_accepts_the_file(tmp_path):
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in dotenv().items()) + "\n", "utf-8")
    cli = compose_cli()
    for args in ([], ["--profile", "loader"]):
        proc = subprocess.run([*cli, *args, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stderr
    (tmp_path / ".env").write_text("DEALGRAPH_NEO4J_PASSWORD=\n", "utf-8")
    proc = subprocess.run([*cli, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode != 0 and "DEALGRAPH_NEO4J_PASSWORD" in proc.stdout + proc.stderr
