# kage as one static binary in an otherwise empty image.
#   docker build -t kage .
#   docker run --rm kage version
FROM debian:12 AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev \
      libssl-dev libzstd-dev libyaml-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAGE_STATIC=ON \
 && ninja -C /build kage \
 && strip -o /kage /build/tools/kage \
 && /kage version

FROM scratch
COPY --from=build /kage /kage
# For HTTPS to S3 (the system's CAs are kage's default trust store).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 9121
ENTRYPOINT ["/kage"]
CMD ["run"]
