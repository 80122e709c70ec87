# Skjold container image: a static, cgo-free binary on a distroless base, run as non-root.
#
#   podman build -t skjold .        (or docker build)
#   podman run -p 8443:8443 -v skjold-data:/data skjold
#
# The master key file lives in /data/master.key unless SKJOLD_MASTER_KEY_FILE points at a
# mounted secret (e.g. /run/secrets/master.key). See docs/deploy.md.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/skjold ./cmd/skjold \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/skjold /usr/local/bin/skjold
# The data directory must be mode 0700 and owned by the user Skjold runs as (65532, nonroot).
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
USER 65532:65532
ENV SKJOLD_DATA=/data SKJOLD_ADDR=0.0.0.0:8443
VOLUME ["/data"]
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/skjold"]
CMD ["serve"]
