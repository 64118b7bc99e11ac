# syntax=docker/dockerfile:1
#
# One image recipe for every Haven binary: a static binary on distroless,
# running as nonroot (65532). Build from the repository root, naming the
# module and its command:
#
#   docker build --build-arg MODULE=services/identity --build-arg CMD=identity \
#     --build-arg VERSION=$(git describe --always --dirty) -t haven/identity .
#   docker build --build-arg MODULE=platform/router --build-arg CMD=router -t haven/router .
#
# The module is built alone (GOWORK=off); its go.mod replaces
# github.com/havenhealth/haven/libs with ../../libs, so only libs/ and the
# module are copied in. Each service's team builds and ships its own image
# on its own schedule; one recipe keeps the seven images identical in shape.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG MODULE
ARG CMD
RUN test -n "$MODULE" && test -n "$CMD" || (echo "pass --build-arg MODULE=... --build-arg CMD=..." >&2; exit 1)
WORKDIR /src
ENV GOWORK=off \
    CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false

# Dependencies first, so that this layer is reused until a go.mod/go.sum changes.
COPY libs/go.mod libs/go.sum libs/
COPY ${MODULE}/go.mod ${MODULE}/go.sum ${MODULE}/
WORKDIR /src/${MODULE}
RUN go mod download

COPY libs/ /src/libs/
COPY ${MODULE}/ /src/${MODULE}/

ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/app ./cmd/${CMD}

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
# The distroless "nonroot" user, by number so that Kubernetes can check
# runAsNonRoot without a runAsUser.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app"]
