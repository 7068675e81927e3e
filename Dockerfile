# The `omen` binary (adapter, webhook, exporters, tools) in a small non-root image:
#   docker build -t <registry>/omen:0.1.0 .
# The Grafana plugin is packaged separately (grafana-datasource/scripts/build, docs/grafana.md).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin omen \
    && cp target/release/omen /omen

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /omen /usr/local/bin/omen
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/omen"]
CMD ["--help"]
