# jetserve worker image, CPU only, on Debian 12 slim (amd64 or arm64). Models are mounted
# (e.g. at /models), never baked in. Runs as an unprivileged user.
#   docker build -f deploy/docker/worker.Dockerfile -t jetserve-worker .
FROM debian:12 AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN bash /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN /src/deploy/docker/build.sh /build /opt/jetserve jetserve-worker jetserve -- -DJETSERVE_CUDA=OFF

FROM debian:12-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin jetserve
COPY --from=build /opt/jetserve/bin/ /usr/local/bin/
USER 10001
# 50061: worker gRPC API (--listen); 9100: Prometheus /metrics (--metrics-listen).
EXPOSE 50061 9100
ENTRYPOINT ["/usr/local/bin/jetserve-worker"]
