# jetserve worker image for x86-64 NVIDIA GPUs (CUDA 12). The CUDA toolkit comes from
# NVIDIA's image (nvcc runs on Debian 12: it needs glibc 2.35, Debian has 2.36); everything
# else is Debian 12, whose gRPC/protobuf/Abseil the code is written against. The runtime is
# linked statically (cudart_static) and libcuda.so is loaded at run time, so the final
# image holds no CUDA libraries: the NVIDIA container toolkit mounts the driver (and
# libnvidia-ml for the GPU telemetry, capability "utility").
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t jetserve-worker-cuda .
#   docker run --gpus all -v $HOME/.cache/jetserve/models:/models:ro jetserve-worker-cuda \
#     --model /models/SmolLM2-135M-Instruct.Q4_1.gguf --name smollm2 --device cuda:0 \
#     --listen 0.0.0.0:50061 --metrics-listen 0.0.0.0:9100
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-devel-ubuntu22.04
# The versioned folder (/usr/local/cuda is a chain of links in that image).
ARG CUDA_DIR=cuda-12.6
ARG CUDA_ARCHITECTURES="75;80;86;89;90"
FROM ${CUDA_IMAGE} AS cuda

FROM debian:12 AS build
ARG CUDA_ARCHITECTURES
ARG CUDA_DIR
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=cuda /usr/local/${CUDA_DIR} /usr/local/cuda
ENV PATH=/usr/local/cuda/bin:${PATH}
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN bash /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN /src/deploy/docker/build.sh /build /opt/jetserve jetserve-worker jetserve -- \
      -DJETSERVE_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}"

FROM debian:12-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin jetserve
COPY --from=build /opt/jetserve/bin/ /usr/local/bin/
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001
EXPOSE 50061 9100
ENTRYPOINT ["/usr/local/bin/jetserve-worker"]
