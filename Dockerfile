# One image for both production processes: `orchestration api` and
# `orchestration worker` (and `orchestration migrate`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY triggers ./triggers
COPY engine ./engine
COPY api ./api
COPY compose ./compose
RUN pip install . && useradd --system --uid 10001 orchestration
USER orchestration
ENV ORCHESTRATION_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["orchestration"]
CMD ["api"]
