# cnnviz for a room: `docker build -t cnnviz . && docker run -p 8501:8501 cnnviz`, then http://HOST:8501.
# The install and start steps are the Makefile's (`make weights`, `make class`), as in the README.
# Pinned to an exact Python patch release and Debian release; pin the digest too where your registry allows:
#   FROM python:3.11.11-slim-bookworm@sha256:<digest from `docker buildx imagetools inspect`>
FROM python:3.11.11-slim-bookworm

RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 cnnviz
USER cnnviz
WORKDIR /home/cnnviz/app

# Requirements first: the slow layer (torch, weights) is rebuilt only when they change.
COPY --chown=cnnviz:cnnviz requirements.txt pyproject.toml README.md Makefile ./
COPY --chown=cnnviz:cnnviz cnnviz ./cnnviz
# Installs .venv and fetches every weight pack now, at build time: the container needs no network.
RUN make weights PYTHON=python3
COPY --chown=cnnviz:cnnviz . .

ENV PORT=8501 \
    PYTHONUNBUFFERED=1
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD .venv/bin/python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ['PORT'], timeout=4)"
CMD ["sh", "-c", "make class PORT=$PORT HOST=0.0.0.0"]
