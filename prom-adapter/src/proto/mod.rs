//! Remote-write protobuf messages, written for this crate with prost's derive macros.
//!
//! Text fields are declared as `bytes` (the same wire format as `string`) so that decoding from a
//! [`bytes::Bytes`] buffer slices it instead of copying; UTF-8 is checked where labels are validated.

pub mod v1;
pub mod v2;

/// Metric types shared by remote write 1.0 metadata and 2.0 series metadata (same numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// Not said.
    Unknown = 0,
    /// A monotonically increasing counter.
    Counter = 1,
    /// A value that goes up and down.
    Gauge = 2,
    /// A histogram.
    Histogram = 3,
    /// A gauge histogram.
    GaugeHistogram = 4,
    /// A summary.
    Summary = 5,
    /// An info metric.
    Info = 6,
    /// A state set.
    StateSet = 7,
}
