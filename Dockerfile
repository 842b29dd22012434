# The mpx jobs as a container (used by compose.yaml). Build: docker build -t mpx .
FROM python:3.11-slim
WORKDIR /opt/mpx
COPY pyproject.toml README.md ./
COPY mpx ./mpx
RUN pip install --no-cache-dir . && useradd --system --home /opt/mpx mpx
COPY rules ./rules
COPY sql ./sql
COPY synonyms.yml ./
COPY scripts/every.sh ./scripts/every.sh
USER mpx
ENTRYPOINT ["mpx"]
CMD ["--help"]
