# odoo-router container image.
#
#   docker build -t odoo-router .        (from the repository root)
#
# Two stages: "build" turns the source and its dependencies into wheels, compiling the data
# path with mypyc (setup.py) on an image that has a C compiler; the runtime stage installs
# only those wheels (no compiler, no source tree, no pip cache) and runs as a non-root user.
# Both stages must carry the same CPython (the official python:3.11 images do).
#
# Offline builds (CI has no registry for the base image nor PyPI inside the build): pass
#   --build-arg BASE=<an image with Python 3.11 in /usr/local, pip and useradd>
#   --build-arg BUILD_BASE=<the same, or one that also has gcc and Python.h>
#   --build-arg PIP_OPTIONS="--no-index --find-links=/wheelhouse"
#   --build-arg ODOO_ROUTER_PURE=1 (only when BUILD_BASE has no compiler: a slower build)
# where /wheelhouse in that base image holds every wheel needed, setuptools and mypy
# included (tests/runtime/test_docker_build.py does exactly that), and, for a build with a
# compiler, the `llhttp` package whose llhttp.h the compiled head parser is built with.
ARG BASE=python:3.11-slim
ARG BUILD_BASE=python:3.11

FROM ${BUILD_BASE} AS build
ARG PIP_OPTIONS=""
ARG ODOO_ROUTER_PURE=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    ODOO_ROUTER_PURE=${ODOO_ROUTER_PURE}
WORKDIR /src
# README.md is the package's long description; the [d] pattern lets a tree without it build.
COPY pyproject.toml setup.py README.m[d] ./
COPY src ./src
# Wheels for the project and every dependency: the runtime stage installs with --no-index.
RUN python -m pip wheel --wheel-dir /wheels ${PIP_OPTIONS} .

FROM ${BASE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed uid/gid so that mounted config files can be made readable by it on the host.
RUN groupadd --system --gid 10001 odoo-router \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin odoo-router
# The maintenance state (config/router.yaml: maintenance.file is state/maintenance.yaml),
# written by `odoo-router maintenance on|off` run in the container as this user: a directory
# it owns. deploy/docker-compose.yml mounts the host's odoo-router/state here (owned by
# 10001 there too).
RUN mkdir -p /etc/odoo-router/state && chown 10001:10001 /etc/odoo-router/state
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install --no-index --find-links=/tmp/wheels odoo-router \
    && rm -rf /tmp/wheels
# A default config so that the image starts on its own; deploy/docker-compose.yml mounts the
# real one read-only over /etc/odoo-router.
COPY config/router.yaml /etc/odoo-router/router.yaml

# Port 80 as a non-root user, without setcap and without a capability:
# Docker (>= 20.10) starts every container that has its own network namespace with
# net.ipv4.ip_unprivileged_port_start=0, so any user may bind port 80 inside it; the compose
# file also sets that sysctl explicitly. We keep 80 (rather than 8080) because Traefik's
# service points at http://seisei-odoo-router:80 and config/router.yaml listens on :80, and
# we avoid `setcap cap_net_bind_service=+ep` on the python binary because it would hand the
# capability to every Python program in the image and breaks under `cap_drop: [ALL]` with
# no-new-privileges. On Kubernetes, set the same sysctl in the pod securityContext (it is
# in the "safe" set) or change server.listen to :8080.
USER odoo-router:odoo-router
EXPOSE 80
# SIGTERM: graceful stop (in-flight requests finish up to server.shutdown_grace);
# SIGHUP (docker kill -s HUP): reload the configuration.
STOPSIGNAL SIGTERM
# No curl in this image (nor in nginx:alpine, which broke the reference's check): the
# router ships its own stdlib-only probe. It asks /nginx-health, answered by every host rule.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "odoo_router.probe"]
ENTRYPOINT ["odoo-router"]
CMD ["--config", "/etc/odoo-router/router.yaml"]
