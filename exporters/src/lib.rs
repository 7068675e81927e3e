//! Prometheus exporters (work in progress, see issue 5).
