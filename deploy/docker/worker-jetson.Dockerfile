# jetserve worker image for Jetson Orin on JetPack 6 (L4T r36, aarch64, CUDA 12.2+).
#
# JetPack 6's L4T base is Ubuntu 22.04, whose gRPC (1.30) and protobuf (3.12) are older
# than jetserve needs (gRPC >= 1.51 callback API, protobuf 3.21). So the userland is
# Debian 12 arm64 instead (the same gRPC 1.51 / protobuf 3.21 / Abseil 20220623 as every
# other build), and only the CUDA toolkit is taken from NVIDIA's L4T JetPack image: its
# aarch64 nvcc needs glibc >= 2.35, Debian 12 has 2.36. The CUDA runtime is linked
# statically, so the final image holds no CUDA library; on the board the NVIDIA container
# runtime (runtimeClassName: nvidia on K3s) mounts the Tegra driver (libcuda, libnvrm*)
# from the host as JetPack 6's CSV files list them.
#
# Build on an arm64 machine (a Jetson, or buildx with QEMU):
#   docker buildx build --platform linux/arm64 -f deploy/docker/worker-jetson.Dockerfile \
#     -t jetserve-worker-jetson .
ARG L4T_IMAGE=nvcr.io/nvidia/l4t-jetpack:r36.4.0
# The versioned folder of that image (r36.4: CUDA 12.6; r36.2/36.3: cuda-12.2).
ARG CUDA_DIR=cuda-12.6
FROM ${L4T_IMAGE} AS l4t

FROM debian:12 AS build
ARG CUDA_DIR
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=l4t /usr/local/${CUDA_DIR} /usr/local/cuda
ENV PATH=/usr/local/cuda/bin:${PATH}
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN bash /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
# sm_87: Orin (AGX, NX, Nano).
RUN /src/deploy/docker/build.sh /build /opt/jetserve jetserve-worker jetserve -- \
      -DJETSERVE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=87

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
