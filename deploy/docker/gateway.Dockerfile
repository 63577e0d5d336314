# jetserve gateway image: no CUDA, no engine, only the gateway and the `jetserve` CLI on
# Debian 12 slim, running as an unprivileged user. Multi-arch (amd64, arm64):
#   docker build -f deploy/docker/gateway.Dockerfile -t jetserve-gateway .
#   docker buildx build --platform linux/arm64 -f deploy/docker/gateway.Dockerfile .
# The build stage runs the same install script and CMake invocation as CI
# (deploy/install-deps.sh, deploy/docker/build.sh).
FROM debian:12 AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN bash /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN /src/deploy/docker/build.sh /build /opt/jetserve jetserve-gateway jetserve -- -DJETSERVE_CUDA=OFF

FROM debian:12-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin jetserve
COPY --from=build /opt/jetserve/bin/ /usr/local/bin/
USER 10001
# 50051: public gRPC API; 9090: Prometheus /metrics (metrics_listen in the config);
# 11434: Ollama/OpenAI HTTP API (http_listen in the config).
EXPOSE 50051 9090 11434
ENTRYPOINT ["/usr/local/bin/jetserve-gateway"]
CMD ["--config", "/etc/jetserve/gateway.json"]
