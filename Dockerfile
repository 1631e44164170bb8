FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md alembic.ini worker.py ./
COPY herald ./herald
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY migrations ./migrations
RUN pip install -e . && python -m compileall -q herald api workflows activities worker.py
USER nobody
EXPOSE 8000
CMD ["herald", "api"]
