# syntax=docker/dockerfile:1
# ferry's container image: a static binary on a distroless base (CA
# certificates and tzdata, no shell), running as the unprivileged user
# nonroot (65532). One image for every role:
#
#   docker build -t ferry --build-arg VERSION=$(git describe --always) .
#   docker run ferry master  --nats nats://nats:4222 --store s3://bucket/prefix
#   docker run ferry replica --nats nats://nats:4222 --store s3://bucket/prefix
#
# Every flag can be given as an environment variable (FERRY_<FLAG>); the
# defaults below make the servers listen on every interface of the
# container. Orchestrators probe http://:9090/healthz (live) and
# http://:9090/readyz (ready: dataset loaded and caught up with the log).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ferry ./cmd/ferry

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ferry /ferry
# nonroot's home is writable: ferry dev keeps its data under ./ferry-data.
WORKDIR /home/nonroot
USER 65532:65532
ENV FERRY_ADDR=0.0.0.0:6379 \
    FERRY_REPLICA_ADDR=0.0.0.0:6380 \
    FERRY_METRICS_ADDR=0.0.0.0:9090 \
    FERRY_LOG_FORMAT=json
# 6379 RESP (6380: ferry dev's replica), 8080 the HTTP API (--http-addr),
# 9090 metrics and health checks.
EXPOSE 6379 6380 8080 9090
ENTRYPOINT ["/ferry"]
CMD ["dev"]
