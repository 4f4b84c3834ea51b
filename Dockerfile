# syntax=docker/dockerfile:1
#
# One image for the whole suite: the command picks what runs.
#   python -m services.ingress | services.router | services.sender | services.segmentation
#   python -m services migrate          apply the database migrations and exit
# The four services share every dependency and all of libs/common, so one image keeps them on one
# tested build; deploy/k8s and docker-compose.yml set the command per Deployment or service.
#
# No HEALTHCHECK: Kubernetes probes /readyz and /healthz, and docker-compose.yml declares its own.
# Build: docker build -t parley:0.1.0 .

# python:3.11.14-slim-bookworm, pinned by tag and by the digest of its multi-architecture index.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build

ARG SETUPTOOLS_VERSION=84.2.1
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The runtime environment has no pip: the build stage's pip installs into it (--python).
RUN python -m venv --without-pip /opt/parley

WORKDIR /src

# Dependencies first, so code changes reuse this layer. Wheels only: a missing wheel fails the
# build instead of pulling in a compiler (asyncpg, greenlet, orjson... ship manylinux wheels).
COPY requirements.txt deploy/constraints.txt ./
RUN python -m pip --python /opt/parley/bin/python install --only-binary=:all: \
        -r requirements.txt -c constraints.txt

# The project itself, built with a pinned setuptools and installed without dependencies.
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
RUN python -m pip install "setuptools==${SETUPTOOLS_VERSION}" \
    && python -m pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && python -m pip --python /opt/parley/bin/python install --no-deps /wheels/*.whl


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="parley" \
      org.opencontainers.image.description="Parley two-way SMS services (one image, the command picks the service)" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin parley

COPY --from=build /opt/parley /opt/parley

# Bytecode was compiled at install time; the root filesystem is read-only in production.
ENV PATH=/opt/parley/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=8080 \
    PARLEY_DATA_DIR=/tmp/parley

WORKDIR /tmp
USER 10001:10001
EXPOSE 8080

# Exec form, so the service is PID 1 and receives SIGTERM itself (it drains, then exits 0).
CMD ["python", "-m", "services.ingress"]
