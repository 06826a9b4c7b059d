# Builds the modelfactory binary. Generated code (templ, contract bindings,
# vendored front-end files) is committed, so neither Node nor solc is needed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/modelfactory ./cmd/modelfactory

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/modelfactory modelfactory \
    && mkdir -p /var/lib/modelfactory && chown modelfactory /var/lib/modelfactory
COPY --from=build /out/modelfactory /usr/local/bin/modelfactory
USER modelfactory
WORKDIR /var/lib/modelfactory
ENV MF_ADDR=0.0.0.0:8080 MF_DATA_DIR=/var/lib/modelfactory
EXPOSE 8080
ENTRYPOINT ["modelfactory"]
CMD ["serve"]
