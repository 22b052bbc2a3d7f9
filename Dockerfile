# syntax=docker/dockerfile:1
# The dealgraph API (and the one-shot loader) as a slim, non-root image.
#   docker compose build            (or: docker build -t dealgraph .)
# Practice followed (docs/neo4j.md#sources): FastAPI's "FastAPI in Containers - Docker"
# (dependencies in their own cached layer before the code, exec-form CMD, one process
# per container), Docker's multi-stage builds and USER guidance.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment with every dependency, then the package
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# torch first, pinned exactly as pyproject.toml pins it, from the PyTorch CPU index:
# the default index would pull gigabytes of CUDA wheels the API never uses.
ARG TORCH_VERSION=2.13.0
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"
# The other dependencies, from pyproject.toml alone: this layer is rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY README.md ./
COPY ontology ontology
COPY graph graph
COPY loaders loaders
COPY gnn gnn
COPY api api
RUN pip install --no-deps . && python -c "import api.cli, graph.neo4j"

# ---- runtime: the environment only, run as an unprivileged user
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEALGRAPH_HOME=/data \
    DEALGRAPH_HOST=0.0.0.0 \
    DEALGRAPH_PORT=8000
RUN groupadd --system --gid 10001 dealgraph \
    && useradd --system --uid 10001 --gid dealgraph --home-dir /data --no-create-home dealgraph \
    && mkdir -p /data /import \
    && chown dealgraph:dealgraph /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /data
USER dealgraph:dealgraph
VOLUME ["/data"]
EXPOSE 8000
# The API's own probe: 200 when the store answers a trivial read (slim images have no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"DEALGRAPH_PORT\", \"8000\")}/healthz', timeout=4)"]
ENTRYPOINT ["dealgraph"]
CMD ["serve"]
